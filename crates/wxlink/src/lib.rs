//! wxlink: lets AI agents use WeChat. The binary is a thin shell over this library; see
//! `docs/ARCHITECTURE.md` for the map.
//!
//! - [`cli`]: the command line, one module per subcommand.

pub mod cli;
