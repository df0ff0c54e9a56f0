import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';
import { columnTypes } from './column-types.js';

/**
 * KIM's I_AccountManager_Service (docs/kim-provider-apis.md): per account its registration
 * (`kim_reg_stat` registered/deregistered, NULL: never registered through the Account
 * Manager), the KIM version it announced, the referenceID it registered with and, once
 * deregistered, `kim_dereg_date` (unix seconds) after which the account is deleted unless the
 * deregistration is revoked; the out-of-office note (JSON of OutOfOfficeNotification, stored
 * only: the autoreply is later); the porting one-time password of getOTP (its SHA-256, hex,
 * and expiry, unix seconds) until setTID uses it. `kim_jwt_seen` remembers each accepted JWT (by the hash of its
 * signature) until it expires, so a token is used once (replay protection), on every node.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const { big } = columnTypes(dialect);
  await sql.raw('alter table accounts add column kim_reg_stat text').execute(db);
  await sql.raw('alter table accounts add column kim_version text').execute(db);
  await sql.raw('alter table accounts add column kim_reference_id text').execute(db);
  await sql.raw(`alter table accounts add column kim_dereg_date ${big}`).execute(db);
  await sql.raw('alter table accounts add column kim_out_of_office text').execute(db);
  await sql.raw('alter table accounts add column kim_otp_hash text').execute(db);
  await sql.raw(`alter table accounts add column kim_otp_expires ${big}`).execute(db);
  await sql.raw(`create table kim_jwt_seen (token_id text primary key, expires_at ${big} not null)`).execute(db);
  await sql.raw('create index kim_jwt_seen_expires on kim_jwt_seen (expires_at)').execute(db);
  await sql.raw('create index accounts_kim_dereg on accounts (kim_dereg_date)').execute(db);
}
