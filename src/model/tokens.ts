/**
 * Token counts before a call. The raw estimate is a token per 4 characters, the usual rule of thumb for English;
 * `TokenCalibration` corrects it per model with the ratio of what the API reported to what we estimated.
 */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/**
 * Exponentially weighted ratio actual/estimated per model; `apply` scales an estimate by it. `onUpdate` hears of
 * every `persistEvery`-th observation of a model (to keep the ratio across restarts).
 */
export class TokenCalibration {
  private readonly ratios = new Map<string, number>();
  private readonly unsaved = new Map<string, number>();

  constructor(
    initial: Record<string, number> = {},
    private readonly weight = 0.1,
    private readonly onUpdate?: (model: string, ratio: number, samples: number) => void,
    private readonly persistEvery = 10,
  ) {
    for (const [model, ratio] of Object.entries(initial)) this.ratios.set(model, ratio);
  }

  ratio(model: string): number {
    return this.ratios.get(model) ?? 1;
  }

  apply(model: string, estimated: number): number {
    return Math.ceil(estimated * this.ratio(model));
  }

  /** Folds in one observation; ignores tiny prompts, whose ratio is mostly noise. */
  observe(model: string, estimated: number, actual: number): void {
    if (estimated < 50 || actual <= 0) return;
    const sample = actual / estimated;
    const prev = this.ratios.get(model);
    const ratio = prev === undefined ? sample : prev + this.weight * (sample - prev);
    this.ratios.set(model, ratio);
    const pending = (this.unsaved.get(model) ?? 0) + 1;
    if (pending >= this.persistEvery || prev === undefined) {
      this.unsaved.set(model, 0);
      this.onUpdate?.(model, ratio, pending);
    } else this.unsaved.set(model, pending);
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.ratios);
  }
}
