// The reader subsystem's public surface; it grows with the reader's own work.
export {};
