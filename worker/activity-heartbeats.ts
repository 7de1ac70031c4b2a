import type { Context } from '@temporalio/activity';
import type { ActivityInterceptors } from '@temporalio/worker';

/** Activities that heartbeat their own progress: an automatic beat would overwrite their details. */
const SELF_HEARTBEATING = new Set(['extractTable']);

/** How often a short activity says it is alive; with the 1 s throttle, well inside a 5 s heartbeat timeout. */
const BEAT_EVERY_MS = 1_000;

/**
 * Heartbeats every activity that does not heartbeat itself while it runs. Control-plane steps have a
 * heartbeat timeout so that a worker killed during one (validation, commit) is noticed in seconds; without
 * beats their 2-minute start-to-close timeout would be the only way Temporal learns the attempt is lost.
 */
export function heartbeatWhileRunning(ctx: Context): ActivityInterceptors {
  return {
    inbound: {
      async execute(input, next) {
        if (SELF_HEARTBEATING.has(ctx.info.activityType) || !ctx.info.heartbeatTimeoutMs) return next(input);
        const beat = setInterval(() => ctx.heartbeat(), BEAT_EVERY_MS);
        try {
          return await next(input);
        } finally {
          clearInterval(beat);
        }
      },
    },
  };
}
