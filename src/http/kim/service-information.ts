import type { FastifyPluginAsync } from 'fastify';
import { KIM_JSON } from './error.js';

/** ServiceInformation.yaml 1.0.3's `ServiceInformation` schema. */
export interface ServiceInformation {
  kimServiceVersion: string;
  passwordPolicyRegEx: string;
  passwordPolicyDisplay: string;
  jwtExpiration: number;
  referenceIdRequired: boolean;
  initialPasswordRequired: boolean;
}

/** The base path of ServiceInformation.yaml 1.0.3's `servers`. */
export const SERVICE_INFORMATION_BASE = '/ServiceInformation/v1.0';

/**
 * KIM's I_ServiceInformation: `GET /ServiceInformation/v1.0/serviceinfo`, without
 * authentication (the document names no security), answering facts from the configuration
 * and the password rule the accounts enforce (service/password-policy.ts).
 */
export function serviceInformationRoutes(info: ServiceInformation): FastifyPluginAsync {
  const body = JSON.stringify(info);
  return async (app) => {
    app.get(`${SERVICE_INFORMATION_BASE}/serviceinfo`, async (_req, reply) => reply.status(200).type(KIM_JSON).send(body));
  };
}
