// The recorder subsystem's public surface; it grows with the recorder's own work.
export {};
