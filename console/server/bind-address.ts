import net from 'node:net';
import { UserInputError } from '../../shared/user-input-error';

/** The console's default address: reachable from this machine only. */
export const DEFAULT_CONSOLE_HOST = '127.0.0.1';

/** True for an address only this machine can reach (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  if (bare === 'localhost') return true;
  if (net.isIPv4(bare)) return bare.startsWith('127.');
  if (net.isIPv6(bare)) return bare === '::1' || /^::ffff:127\./i.test(bare);
  return false;
}

/** Thrown when the console would be reachable from other machines without a token. */
export class UnsafeBindError extends UserInputError {
  constructor(host: string) {
    super(
      `Refusing to serve the console on ${host} without a token: anyone who can reach that address could read and ` +
        'change every dataflow. Set DATAFLOW_CONSOLE_TOKEN to a long random secret (e.g. `openssl rand -hex 32`), ' +
        `or bind to ${DEFAULT_CONSOLE_HOST}.`,
      'UnsafeBind',
    );
  }
}

/** The rule: loopback needs no token; any other address does. */
export function assertSafeBind(host: string, token: string | undefined): void {
  if (!isLoopback(host) && !token) throw new UnsafeBindError(host);
}

/**
 * The `Host` names a loopback console answers to: a page on another site that rebinds its DNS name to
 * 127.0.0.1 sends its own name, and is refused.
 */
export function isLoopbackHostHeader(hostHeader: string | undefined): boolean {
  if (!hostHeader) return false;
  const host = hostHeader.startsWith('[') ? hostHeader.slice(0, hostHeader.indexOf(']') + 1) : hostHeader.split(':')[0];
  return isLoopback(host);
}
