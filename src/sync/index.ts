// The sync subsystem's public surface; it grows with the sync's own work.
export {};
