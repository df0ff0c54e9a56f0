/** One line of the benches' filler text (74 bytes with its CRLF). */
const LINE = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\r\n';

/**
 * A message of `head` (header and the blank line) and filler lines, at most `size` bytes
 * before `terminator` (SMTP's `.\r\n` for DATA; '' for a stored message).
 */
export function paddedMessage(head: string, size: number, terminator = '.\r\n'): Buffer {
  let body = '';
  while (head.length + body.length + LINE.length <= size) body += LINE;
  return Buffer.from(head + body + terminator);
}
