//! End-to-end tests: the real `envctl` binary against a local AWS API emulator (moto), checked
//! with an independent client. Run them with `scripts/test`, which installs the emulator.
#![allow(clippy::unwrap_used)]

mod support;

mod accounts;
mod apply;
mod compliance;
mod config;
mod drift;
mod faults;
mod import;
mod interface;
mod misuse;
mod monitoring;
mod parity;
mod permissions;
mod safety;
mod snapshots;
mod strict;
mod trust;
mod verify;
