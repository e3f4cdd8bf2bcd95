/**
 * Hardhat's default dev accounts: public keys of a public mnemonic, for local chains only.
 * The local marketplace deploys from account 0, runs hosts as accounts 1..8 and the demo
 * renter as account 9.
 */
import { bytesToHex } from "viem";
import { mnemonicToAccount } from "viem/accounts";

export const DEV_MNEMONIC = "test test test test test test test test test test test junk";

/** The private key of Hardhat's default dev account `index` (public knowledge: local chains only). */
export function devPrivateKey(index: number): `0x${string}` {
  const key = mnemonicToAccount(DEV_MNEMONIC, { addressIndex: index }).getHdKey().privateKey;
  if (!key) throw new Error(`no private key for dev account ${index}`);
  return bytesToHex(key);
}
