/**
 * The SDK declares its public shapes itself (so the published declarations stand alone); these
 * compile-time checks (run by `pnpm lint`, which type-checks tests) keep them in step with the
 * model package the node uses and with the node's change feed and webhooks: whatever the node's
 * render, views and change events produce fits the SDK's types, and every field the node always
 * sends is a required field of the SDK's type (an app reads `view.messages` without a `?.`).
 */
import { describe, expectTypeOf, it } from 'vitest';
import type { ProfileViewV2, RenderResult as ModelRenderResult, RenderVariables as ModelVariables } from '@profilesync/model';
import type { ChangeData as NodeChangeData, ChangeKind } from '@profilesync/server';
import type { ChangeData, ProfileView, RenderResult, RenderVariables, WebhookDelivery, WebhookEvent } from '@profilesync/client';

/** The keys a type always has (not optional). */
type RequiredKeys<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? never : K }[keyof T];

describe('SDK types', () => {
  it('match the model package', () => {
    expectTypeOf<ModelRenderResult>().toExtend<RenderResult>();
    expectTypeOf<ProfileViewV2>().toExtend<ProfileView>();
    expectTypeOf<RenderVariables>().toEqualTypeOf<ModelVariables>();
  });

  it('a view field the node always sends is required in the SDK type', () => {
    expectTypeOf<RequiredKeys<ProfileView>>().toEqualTypeOf<RequiredKeys<ProfileViewV2>>();
  });

  it('change events and webhook deliveries carry what the node sends', () => {
    expectTypeOf<NodeChangeData>().toExtend<ChangeData>();
    expectTypeOf<keyof ChangeData>().toEqualTypeOf<keyof NodeChangeData>();
    expectTypeOf<RequiredKeys<ChangeData>>().toEqualTypeOf<RequiredKeys<NodeChangeData>>();
    expectTypeOf<WebhookEvent>().toEqualTypeOf<ChangeKind>();
    expectTypeOf<WebhookDelivery['events'][number]>().toEqualTypeOf<ChangeKind>();
    expectTypeOf<WebhookDelivery['data']>().toEqualTypeOf<ChangeData>();
  });
});
