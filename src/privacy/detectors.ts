/**
 * Every detector, one per PII type. The implementations live beside this file, grouped by what they recognise;
 * this module is the registry the redactor draws from.
 */
import { emailDetector, phoneDetector } from './detect-contact';
import { cardDetector, ibanDetector } from './detect-financial';
import { nationalIdDetector } from './detect-identity';
import { ipDetector } from './detect-network';
import { apiKeyDetector, bearerTokenDetector } from './detect-secrets';
import type { Detector, PiiType } from './types';

export const DETECTORS: Readonly<Record<PiiType, Detector>> = {
  api_key: apiKeyDetector,
  bearer_token: bearerTokenDetector,
  iban: ibanDetector,
  card: cardDetector,
  national_id: nationalIdDetector,
  email: emailDetector,
  ip: ipDetector,
  phone: phoneDetector,
};

export { luhnValid, ibanMod97, ibanValid, ssnValid, ninoValid, dniValid, IBAN_LENGTHS } from './checksums';
