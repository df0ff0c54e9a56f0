// sax (node-soap's XML parser, installed with it) ships no types; the few parts xml.ts uses.
declare module 'sax' {
  export interface QualifiedTag {
    name: string;
    local: string;
    uri: string;
    attributes: Record<string, { value: string; local: string; uri: string }>;
  }
  export interface SAXParser {
    onopentag: (tag: QualifiedTag) => void;
    onclosetag: (name: string) => void;
    ontext: (text: string) => void;
    oncdata: (text: string) => void;
    onerror: (err: Error) => void;
    ondoctype: (doctype: string) => void;
    write(chunk: string): SAXParser;
    close(): SAXParser;
  }
  export function parser(strict: boolean, opts: { xmlns: true; position?: boolean }): SAXParser;
}
