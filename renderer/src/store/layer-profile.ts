/**
 * The Layer profile screen's state that must outlive a visit to another
 * screen: the form (prompt source, τ, τO, total budget), the last profile
 * (a model run of seconds), the edited custom allocation and the last one
 * saved. Kept per model: a profile, its custom bars and the saved allocation
 * belong to the model they were measured on, and another model shows none.
 */
import type { LayerProfile } from '@kvlab/core';
import { errorMessage } from '@kvlab/core';
import { customMethodEntry } from '../util/layer-allocations.ts';
import type { SliceCreator } from './types.ts';
import type { CallProgress } from './calls.ts';
import { cancelRequest, isCancelled, newRequestId } from './calls.ts';

export interface ProfileForm {
  /** A needle-in-a-haystack sample of core's generator, or the user's text. */
  readonly source: 'niah' | 'text';
  /** The NIAH sample's rough length and needle depth (%). */
  readonly tokens: number;
  readonly depth: number;
  readonly text: string;
  readonly tau: number;
  readonly tauO: number;
  readonly lmbo: boolean;
  /** The total budget the allocators share, as typed ("20%", "256"). */
  readonly budgetText: string;
}

export interface LayerProfileResult {
  /** The model the profile, the custom bars and the saved allocation are for. */
  readonly modelId: string | null;
  readonly profile: LayerProfile | null;
  readonly busy: boolean;
  /** The profile in flight's requestId (cancelLayerProfile names it), and how far its call.progress events say it has got. */
  readonly requestId: string | null;
  readonly progress: CallProgress | null;
  readonly error: string | null;
  /** The custom bars as the user left them; null: they follow ZigZagKV's. */
  readonly custom: number[] | null;
  readonly saved: number[] | null;
}

export interface LayerProfileSlice {
  readonly profileForm: ProfileForm;
  readonly layerProfile: LayerProfileResult;
  updateProfileForm(patch: Partial<ProfileForm>): void;
  /** Profiles the model with the prompt; the result replaces the last (and resets the custom bars). */
  runLayerProfile(modelId: string, prompt: string): Promise<void>;
  /** Asks the engine to stop the profile in flight; the last profile stays. */
  cancelLayerProfile(): Promise<void>;
  /** A call.progress event: kept when it is the profile in flight's. */
  handleProfileProgress(e: CallProgress): void;
  setCustomBudgets(budgets: number[] | null): void;
  /** Keeps the custom allocation and adds it to the experiment builder's methods. */
  saveCustomAllocation(budgets: number[]): void;
}

export const DEFAULT_PROFILE_FORM: ProfileForm = { source: 'niah', tokens: 512, depth: 50, text: '', tau: 0.9, tauO: 0.95, lmbo: true, budgetText: '20%' };

const EMPTY: LayerProfileResult = { modelId: null, profile: null, busy: false, requestId: null, progress: null, error: null, custom: null, saved: null };
const IDLE = { busy: false, requestId: null, progress: null } as const;

export const createLayerProfileSlice: SliceCreator<LayerProfileSlice> = (set, get, api) => ({
  profileForm: DEFAULT_PROFILE_FORM,
  layerProfile: EMPTY,
  updateProfileForm: (patch) => set((s) => ({ profileForm: { ...s.profileForm, ...patch } })),
  runLayerProfile: async (modelId, prompt) => {
    const { tau, tauO, lmbo } = get().profileForm;
    const kept = get().layerProfile;
    // One profile at a time: one still running (another model's; the picker stays enabled) is cancelled, not left to
    // hold the engine for minutes with no Cancel pointing at it.
    void cancelRequest(api, kept.busy ? kept.requestId : null, () => undefined);
    // Another model's profile, custom bars and saved allocation do not carry over.
    const requestId = newRequestId('profile');
    set({ layerProfile: { ...(kept.modelId === modelId ? kept : EMPTY), modelId, busy: true, requestId, progress: null, error: null } });
    // A profile started later (another model: the picker stays enabled) owns the state; this one's answer is dropped.
    const ours = (): boolean => get().layerProfile.requestId === requestId;
    try {
      const profile = await api.profileModel({ modelId, prompt, tau, tauO, lmbo, requestId });
      if (ours()) set((s) => ({ layerProfile: { ...s.layerProfile, ...IDLE, profile, custom: null } }));
    } catch (e) {
      if (ours()) set((s) => ({ layerProfile: { ...s.layerProfile, ...IDLE, error: isCancelled(e) ? null : errorMessage(e) } }));
      if (isCancelled(e) && ours()) get().notify('info', 'The layer profile was cancelled.');
    }
  },
  cancelLayerProfile: () => cancelRequest(api, get().layerProfile.requestId, (e) => get().reportError(e, 'Cancel')),
  handleProfileProgress: (e) => {
    if (e.requestId === get().layerProfile.requestId) set((s) => ({ layerProfile: { ...s.layerProfile, progress: e } }));
  },
  setCustomBudgets: (custom) => set((s) => ({ layerProfile: { ...s.layerProfile, custom } })),
  saveCustomAllocation: (budgets) => {
    set((s) => ({ layerProfile: { ...s.layerProfile, saved: budgets } }));
    // The saved allocation becomes a method of the experiment builder (ZigZagKV over a static profile).
    get().addCustomMethod(customMethodEntry(budgets));
    get().notify('info', 'The custom allocation was added to the Experiment builder’s methods.');
  },
});
