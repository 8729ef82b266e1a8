// The part of uqr's API that ui/js/invite.js uses, for the type checker (tsc in scripts/test).
// The whole declaration is uqr's dist/index.d.mts.

export interface QrCodeGenerateResult {
  /** Modules, row by row: true is dark. Includes the border. */
  data: boolean[][];
  /** Modules per side, border included. */
  size: number;
}

export function encode(data: string, options?: { ecc?: 'L' | 'M' | 'Q' | 'H'; border?: number }): QrCodeGenerateResult;
