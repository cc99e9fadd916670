// Preloaded (node --import) into a Watchman process under test: sends the test
// every warning the process emits and answers `sync`, in order on the one IPC
// channel, so once the answer arrives every earlier warning has too.
process.on('warning', (w: Error) => process.send?.({ type: 'warning', text: `${w.name}: ${w.message}` }));
process.on('message', (m: { type?: string }) => {
  if (m?.type === 'sync') process.send?.({ type: 'synced' });
});
