/**
 * Run an async task one call at a time, in the order asked: a call made while another runs waits for it,
 * then runs itself (it does not share the running call's result). A failed call does not block the next.
 *
 * The flow reload uses it (`startGateway`'s `reloadFlows`, behind both `POST /admin/flows/reload` and
 * SIGHUP): each reload must start from the set the previous one left, or two overlapping reloads would
 * each pass the same `previous` and the later would drop the versions the earlier kept for sessions in
 * flight; and a reload asked after an edit must read the files as they are when its turn comes.
 */
export function oneAtATime<T>(task: () => Promise<T>): () => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return () => {
    const run = tail.then(task);
    tail = run.catch(() => undefined);
    return run;
  };
}
