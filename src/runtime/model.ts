/**
 * The model endpoint: Claude (or the gateway at ANTHROPIC_BASE_URL) when either is set; otherwise the offline
 * model, served in-process on a loopback port and reached through the same SDK over HTTP.
 */
import type { Config } from '../config';
import { createAnthropic, ModelClient } from '../model/client';
import { loadPricing } from '../model/pricing';
import { createOfflineModel } from '../offline-model/server';

export interface ModelEndpoint {
  client: ModelClient;
  description: string;
  /** Base URL of the offline model when it is the one answering. */
  offlineUrl?: string;
  close(): Promise<void>;
}

export async function openModel(config: Config): Promise<ModelEndpoint> {
  const pricing = loadPricing(config.pricingFile);
  if (config.anthropic.apiKey || config.anthropic.baseUrl) {
    // A gateway given by ANTHROPIC_BASE_URL may hold the key itself.
    const anthropic = createAnthropic({ apiKey: config.anthropic.apiKey ?? 'none', baseURL: config.anthropic.baseUrl });
    return {
      client: new ModelClient(anthropic, pricing),
      description: `Claude at ${config.anthropic.baseUrl ?? 'https://api.anthropic.com'}`,
      close: async () => undefined,
    };
  }
  const offline = createOfflineModel();
  const url = await offline.listen({ host: '127.0.0.1', port: 0 });
  const anthropic = createAnthropic({ apiKey: 'offline', baseURL: url });
  return {
    client: new ModelClient(anthropic, pricing),
    description: `the offline model at ${url} (ANTHROPIC_API_KEY is unset: replies are canned, not Claude's)`,
    offlineUrl: url,
    close: () => offline.close(),
  };
}
