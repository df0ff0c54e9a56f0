// RFC 2045 6.7 quoted-printable for the texts the client module writes or extends (Vermerke,
// failure messages): hard line breaks kept, soft breaks before 76 characters, white space at a
// line's end encoded. Small and exact, so no dependency is pulled in for it.

/** RFC 2045 6.7 for text whose lines end in `eol`: lines of at most 76 characters, soft breaks between. */
export function quotedPrintable(bytes: Uint8Array, eol = '\r\n'): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    .toString('latin1')
    .split(/\r?\n/)
    .map((line) => {
      let out = '';
      let length = 0;
      for (let i = 0; i < line.length; i++) {
        const c = line.charCodeAt(i);
        const literal = (c >= 0x21 && c <= 0x7e && c !== 0x3d) || ((c === 0x20 || c === 0x09) && i < line.length - 1);
        const token = literal ? line[i]! : `=${c.toString(16).toUpperCase().padStart(2, '0')}`;
        if (length + token.length > 75) {
          out += `=${eol}`;
          length = 0;
        }
        out += token;
        length += token.length;
      }
      return out;
    })
    .join(eol);
}
