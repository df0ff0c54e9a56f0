import addressparser from 'nodemailer/lib/addressparser';

/**
 * The addr-specs in an address header (From, To, Cc …), in order, lower-cased: every mailbox of
 * a list, group members included (the group's name is dropped), quoted local parts kept as
 * written (`"a b"@x.example`). Read by nodemailer's addressparser (RFC 5322 lists, groups,
 * quoted strings, comments, encoded words); what it reads out of broken text without an `@`
 * between a local part and a domain is no address and is left out.
 */
export function addressesIn(value: string): string[] {
  return addressparser(value, { flatten: true })
    .map((a) => a.address)
    .filter(isAddrSpecShaped)
    .map((a) => a.toLowerCase());
}

/** Something on both sides of the last `@` (a quoted local part may hold one too). */
function isAddrSpecShaped(address: string): boolean {
  const at = address.lastIndexOf('@');
  return at > 0 && at < address.length - 1;
}
