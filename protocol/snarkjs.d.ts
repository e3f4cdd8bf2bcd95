/**
 * The part of snarkjs 0.7.6 (which ships no types) that the project uses: Groth16 proving and
 * verification, and the setup steps of scripts/build-circuit.ts. A file argument is a path or
 * an in-memory file (`{ type: "mem", data }`, as fastfile reads it).
 */
declare module "snarkjs" {
  export type FileArg = string | { type: "mem"; data?: Uint8Array };
  export type Logger = {
    debug(msg: string): void;
    info(msg: string): void;
    warn(msg: string): void;
    error(msg: string): void;
  };
  /** A Groth16 proof as snarkjs writes it: affine points as decimal strings, with a z of "1". */
  export interface Groth16Proof {
    pi_a: string[];
    pi_b: string[][];
    pi_c: string[];
    protocol: string;
    curve: string;
  }
  export type PublicSignals = string[];
  export interface VerificationKey {
    protocol: string;
    curve: string;
    nPublic: number;
    [key: string]: unknown;
  }
  export const groth16: {
    fullProve(
      input: Record<string, unknown>,
      wasm: FileArg,
      zkey: FileArg,
      logger?: Logger,
    ): Promise<{ proof: Groth16Proof; publicSignals: PublicSignals }>;
    verify(
      vkey: VerificationKey,
      publicSignals: PublicSignals,
      proof: Groth16Proof,
      logger?: Logger,
    ): Promise<boolean>;
  };
  export const powersOfTau: {
    newAccumulator(curve: unknown, power: number, file: string, logger?: Logger): Promise<unknown>;
    contribute(
      oldFile: string,
      newFile: string,
      name: string,
      entropy: string,
      logger?: Logger,
    ): Promise<unknown>;
    preparePhase2(oldFile: string, newFile: string, logger?: Logger): Promise<unknown>;
  };
  export const zKey: {
    newZKey(r1cs: string, ptau: string, zkey: string, logger?: Logger): Promise<unknown>;
    contribute(
      oldFile: string,
      newFile: string,
      name: string,
      entropy: string,
      logger?: Logger,
    ): Promise<unknown>;
    exportVerificationKey(zkey: FileArg, logger?: Logger): Promise<VerificationKey>;
    exportSolidityVerifier(
      zkey: FileArg,
      templates: { groth16: string },
      logger?: Logger,
    ): Promise<string>;
  };
  export const r1cs: {
    info(
      file: string,
      logger?: Logger,
    ): Promise<{ nConstraints: number; nPubInputs: number; nOutputs: number; nVars: number }>;
  };
  export const curves: {
    getCurveFromName(name: string): Promise<unknown>;
  };
}
