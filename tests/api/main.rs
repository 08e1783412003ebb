//! ordo's end-to-end tests: the real server on port 0 against a real PostgreSQL.
//! One test binary, so one throwaway PostgreSQL serves the whole run (see `support`).

mod audit;
mod auth;
mod backup;
mod bounded_memory;
mod catalog;
mod cli;
mod console;
mod contract_fuzz;
mod event_store;
mod fulfilment;
mod golden_corpus;
mod health;
mod idempotency;
mod images;
mod journey;
mod openapi;
mod operator_tokens;
mod orders;
mod payment_timeout;
mod payments;
mod permanent_log;
mod production;
mod profile;
mod projection_rows;
mod proxies;
mod purchase_limits;
mod queries;
mod read_side;
mod rebuild;
mod refunds;
mod retention;
mod serve;
mod support;
mod text_hygiene;
mod topology;
