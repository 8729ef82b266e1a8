// The part of markdown-it's API that ui/js/format.js uses, for the type checker (tsc in
// scripts/test). The whole declaration is markdown-it's dist/markdown-it.d.mts.

export interface Token {
  type: string;
  tag: string;
  attrs: [string, string][] | null;
  nesting: 1 | 0 | -1;
  level: number;
  children: Token[] | null;
  content: string;
  info: string;
  markup: string;
  hidden: boolean;
  attrGet(name: string): string | null;
}

export interface Options {
  html?: boolean;
  linkify?: boolean;
  breaks?: boolean;
  maxNesting?: number;
}

export interface LinkifyIt {
  set(options: { fuzzyLink?: boolean; fuzzyEmail?: boolean; fuzzyIP?: boolean }): LinkifyIt;
  add(schema: string, definition: null): LinkifyIt;
}

export interface MarkdownIt {
  enable(rules: string[], ignoreInvalid?: boolean): MarkdownIt;
  parse(src: string, env: object): Token[];
  validateLink(url: string): boolean;
  linkify: LinkifyIt;
}

declare function markdownit(preset: 'zero' | 'default' | 'commonmark', options?: Options): MarkdownIt;
export default markdownit;
