/** The Hub's refusals turned into messages that say what to do (huggingface_hub's GatedRepoError / RepositoryNotFoundError hints). */

/** `e` with the repository named and, for 401/403/404, how to get access. */
export function hubError(e: unknown, repo: string, endpoint: string, type: 'dataset' | 'model' = 'dataset'): Error {
  const err = e as Error & { statusCode?: number };
  const page = `${endpoint}/${type === 'dataset' ? 'datasets/' : ''}${repo}`;
  const status = err.statusCode;
  let hint = '';
  if (status === 401 || status === 403) {
    hint = ` The repository is gated or private: open ${page}, accept its conditions (gated) and set HF_TOKEN to a token ` +
      'that may read it (https://huggingface.co/settings/tokens).' + (process.env.HF_TOKEN ? ' (HF_TOKEN is set: this token has no access.)' : '');
  } else if (status === 404) {
    hint = ` No such repository on ${endpoint}, or it is private: check the id, or set HF_TOKEN.`;
  }
  return Object.assign(new Error(`${repo}: ${err.message}${hint}`), { statusCode: status });
}
