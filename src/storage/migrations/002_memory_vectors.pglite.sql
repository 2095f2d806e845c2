-- pgvector for the embedded semantic store (src/memory/pgvector-store.ts). Only the extension: the table is
-- created by the store itself, because an HNSW index needs a vector column of fixed dimension and the dimension
-- is the configured embedder's (memories_512 for the local embedder, memories_1024 for Voyage, ...).
CREATE EXTENSION IF NOT EXISTS vector;
