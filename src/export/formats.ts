/** The export formats and their file extensions: light enough for the command line's help to import. */
export const EXPORT_FORMATS = ["parquet", "arrow", "csv", "ndjson"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** File name extension of each format (`.arrows`: the Arrow IPC stream format). */
export const EXTENSION: Record<ExportFormat, string> = {
  parquet: "parquet",
  arrow: "arrows",
  csv: "csv",
  ndjson: "ndjson",
};
