/**
 * The SDK declares its public shapes itself (so the published declarations stand alone); these
 * compile-time checks (run by `pnpm lint`, which type-checks tests) keep them in step with the
 * model package the node uses: whatever the node's render and views produce fits the SDK's types.
 */
import { describe, expectTypeOf, it } from 'vitest';
import type { ProfileViewV2, RenderResult as ModelRenderResult, RenderVariables as ModelVariables } from '@profilesync/model';
import type { ProfileView, RenderResult, RenderVariables } from '@profilesync/client';

describe('SDK types', () => {
  it('match the model package', () => {
    expectTypeOf<ModelRenderResult>().toExtend<RenderResult>();
    expectTypeOf<ProfileViewV2>().toExtend<ProfileView>();
    expectTypeOf<RenderVariables>().toEqualTypeOf<ModelVariables>();
  });
});
