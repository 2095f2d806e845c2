/**
 * Every tool the worker can run, from all its providers: the tools module (MEMOIR_TOOLS_MODULE), MCP servers
 * (src/tools/mcp.ts) and Memoir's memory tools. Built once at worker start; names are unique across providers.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type Anthropic from '@anthropic-ai/sdk';
import { definedToolsProvider, type DefinedTool } from './define';
import type { ToolCallContext, ToolInfo, ToolOutput, ToolProvider } from './types';

export class ToolRegistry {
  private constructor(
    private readonly tools: Map<string, { info: ToolInfo; provider: ToolProvider }>,
    private readonly providers: ToolProvider[],
  ) {}

  /** Lists every provider's tools; two tools with one name is a configuration error. */
  static async create(providers: ToolProvider[]): Promise<ToolRegistry> {
    const tools = new Map<string, { info: ToolInfo; provider: ToolProvider }>();
    for (const provider of providers) {
      for (const info of await provider.list()) {
        const taken = tools.get(info.name);
        if (taken) throw new Error(`two tools are named ${info.name} (${taken.info.source} and ${info.source})`);
        tools.set(info.name, { info, provider });
      }
    }
    return new ToolRegistry(tools, providers);
  }

  static empty(): ToolRegistry {
    return new ToolRegistry(new Map(), []);
  }

  names(): string[] {
    return [...this.tools.keys()].sort();
  }

  info(name: string): ToolInfo | undefined {
    return this.tools.get(name)?.info;
  }

  /** The names in `wanted` no provider offers. */
  unknown(wanted: string[]): string[] {
    return wanted.filter((n) => !this.tools.has(n));
  }

  /** The tools as the Messages API takes them, in the order given (the order is part of the cached prefix). */
  definitions(names: string[]): Anthropic.Tool[] {
    return names.flatMap((name) => {
      const info = this.info(name);
      return info
        ? [
            {
              name: info.name,
              description: info.description,
              input_schema: info.inputSchema as Anthropic.Tool.InputSchema,
            },
          ]
        : [];
    });
  }

  call(name: string, input: unknown, ctx: ToolCallContext): Promise<ToolOutput> {
    const entry = this.tools.get(name);
    if (!entry) return Promise.resolve({ content: `no tool named ${name} is available`, isError: true });
    return entry.provider.call(name, input, ctx);
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.providers.map(async (p) => p.close?.()));
  }
}

/**
 * The provider of a tools module: a JS or TS module (TS when the worker runs from the sources) that exports
 * `tools`, an array of `defineTool(...)` results. Relative paths resolve from the working directory.
 */
export async function loadToolsModule(modulePath: string): Promise<ToolProvider> {
  const url = pathToFileURL(path.resolve(modulePath)).href;
  const mod = (await import(url)) as { tools?: unknown; default?: { tools?: unknown } };
  const tools = mod.tools ?? mod.default?.tools;
  if (!Array.isArray(tools) || !tools.every(isDefinedTool)) {
    throw new Error(`MEMOIR_TOOLS_MODULE ${modulePath} must export \`tools\`: an array of defineTool(...) results`);
  }
  return definedToolsProvider(tools);
}

function isDefinedTool(t: unknown): t is DefinedTool {
  return typeof t === 'object' && t !== null && 'info' in t && typeof (t as DefinedTool).call === 'function';
}
