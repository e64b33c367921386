/** The peers `npm run bench` measures ticktape against, in the order they are reported. */
import { arrowIpcPeer } from "./arrow-ipc.js";
import { ndjsonGzipPeer } from "./ndjson-gzip.js";
import { ndjsonZstdPeer } from "./ndjson-zstd.js";
import { parquetWasmPeer } from "./parquet.js";
import type { Peer } from "./peer.js";

export type { Peer, PeerResult } from "./peer.js";

export const allPeers: Peer[] = [ndjsonGzipPeer, ndjsonZstdPeer, arrowIpcPeer, parquetWasmPeer];
