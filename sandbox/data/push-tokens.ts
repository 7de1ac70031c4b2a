import { ulid } from '../ids';
import { RowRandom, saltOf } from '../random';
import type { Dataset } from './dataset';
import type { Resource, ResourceRef } from './row';
import { rowSource, type TableModel } from './table-model';
import { DAY, isoSeconds } from './values';

/**
 * Push tokens, each owned by one profile: token t belongs to profile floor(t * P / T) when there are fewer tokens
 * than profiles (t mod P otherwise), a mapping that can be inverted cheaply for a profile's relationship.
 */
export class PushTokens {
  constructor(private readonly ds: Dataset) {}

  get count(): number {
    return this.ds.profiles.count === 0 ? 0 : this.ds.sizes.pushTokens;
  }

  profileOf(token: number): number {
    const p = this.ds.profiles.count;
    const t = this.count;
    return t <= p ? Math.floor((token * p) / t) : token % p;
  }

  tokensOfProfile(profile: number): number[] {
    const p = this.ds.profiles.count;
    const t = this.count;
    if (t === 0) return [];
    if (t <= p) {
      const token = Math.ceil((profile * t) / p);
      return token < t && this.profileOf(token) === profile ? [token] : [];
    }
    const out: number[] = [];
    for (let token = profile; token < t; token += p) out.push(token);
    return out;
  }

  private createdSec(index: number): number {
    return this.ds.state.startSec - 200 * DAY + index * 600;
  }

  id(index: number): string {
    return ulid(this.ds.seed, 'push-token', index, this.createdSec(index) * 1000);
  }

  token(index: number): string {
    const r = new RowRandom(this.ds.seed, saltOf('push-token-value'), index);
    let hex = '';
    for (let i = 0; i < 64; i++) hex += '0123456789abcdef'[r.int(16)];
    return hex;
  }

  ref(index: number): ResourceRef {
    return { type: 'push-token', id: this.id(index), load: () => this.row(index) };
  }

  row(index: number): Resource {
    const r = new RowRandom(this.ds.seed, saltOf('push-token'), index);
    const platform = r.pick(['ios', 'android']);
    const profile = this.profileOf(index);
    return {
      type: 'push-token',
      id: this.id(index),
      attributes: {
        created: isoSeconds(this.createdSec(index)),
        token: this.token(index),
        enablement_status: r.pick(['AUTHORIZED', 'DENIED', 'NOT_DETERMINED', 'PROVISIONAL', 'UNAUTHORIZED']),
        platform,
        vendor: platform === 'ios' ? 'apns' : 'fcm',
        background: r.pick(['AVAILABLE', 'DENIED', 'RESTRICTED']),
        recorded_date: isoSeconds(this.createdSec(index) + r.int(DAY)),
        metadata: r.chance(0.2)
          ? null
          : {
              device_id: `device-${index}`,
              klaviyo_sdk: platform === 'ios' ? 'swift' : r.pick(['android', 'flutter', 'react_native']),
              sdk_version: '4.2.0',
              device_model: platform === 'ios' ? 'iPhone15,2' : 'Pixel "8"',
              os_name: platform,
              os_version: platform === 'ios' ? '17.4' : '14',
              manufacturer: platform === 'ios' ? 'Apple' : 'Google',
              app_name: 'Shop ✨',
              app_version: '2.3.1',
              app_build: '231',
              app_id: 'com.example.shop',
              environment: r.pick(['debug', 'release']),
            },
      },
      relationships: { profile: this.ds.profiles.ref(profile) },
      filterValues: { 'profile.id': this.ds.profiles.id(profile) },
    };
  }

  model(): TableModel {
    return { source: () => rowSource(this.count, (i) => this.row(i)) };
  }
}
