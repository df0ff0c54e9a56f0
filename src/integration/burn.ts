import { verifyHash } from './hashes/verify.js';

// A fixed scrypt hash (of a random string) at the platform's default cost: checking against
// it costs what a real check costs and can never succeed by accident.
const DUMMY = '$scrypt$ln=15,r=8,p=1$Uu6Bz8tVtnQ9l9eB2ErP5A==$sD6NQ0N3Jc0Lr0f2o8v2Yg0wq3a1q9Jm6xv+1mNq4Zk=';

/** Spends the time of a password check, so "no such user" and "no password" answer as slowly as "wrong password". */
export async function burnHashCheck(password: string): Promise<void> {
  await verifyHash(password, DUMMY);
}
