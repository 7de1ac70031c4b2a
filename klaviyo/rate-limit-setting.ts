/** `KLAVIYO_RATE_LIMITS=off` or `KLAVIYO_RATE_LIMITS=<scale>` (e.g. 0.5); unset means Klaviyo's real tiers. */
export function readKlaviyoRateLimits(env: NodeJS.ProcessEnv = process.env): { enabled: boolean; scale?: number } {
  const value = env.KLAVIYO_RATE_LIMITS?.trim();
  if (!value || value === 'on') return { enabled: true };
  if (value === 'off') return { enabled: false };
  const scale = Number(value);
  if (!Number.isFinite(scale) || scale <= 0) {
    throw new Error(`KLAVIYO_RATE_LIMITS must be "on", "off" or a positive scale such as 0.5, not "${value}".`);
  }
  return { enabled: true, scale };
}
