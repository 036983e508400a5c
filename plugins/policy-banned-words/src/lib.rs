//! Policy `banned-words`: banned terms with fuzzy matching and a score, following the
//! algorithm Microsoft documents for Entra Password Protection ("How are passwords
//! evaluated"):
//!
//! 1. [`normalize`]: lower-case, then substitute `0→o 1→l $→s @→a` (plus any configured
//!    extra pairs).
//! 2. [`score`]: find banned terms exactly and within edit distance 1 ([`edit`],
//!    [`index`]), and the person's name tokens as substrings; one point per term found,
//!    one per remaining character.
//! 3. Pass at `min_score` points (default 5). A name token anywhere refuses the password
//!    outright (Microsoft's "Poll" example), unless `reject_names = false`.
//!
//! Rule ids: `banned.score`, `banned.contains_name`. Messages never name the matched
//! term (it is part of the password).

pub mod config;
pub mod edit;
pub mod index;
pub mod normalize;
mod policy;
pub mod score;

use std::sync::Arc;

use async_trait::async_trait;
use writeback_core::{BuildContext, ConfigError, ConnectorConfig, Policy, TypedFactory};

pub use config::BannedWordsConfig;
pub use policy::BannedWordsPolicy;

/// Registers as `type = "banned-words"`.
pub struct BannedWordsPolicyFactory;

/// The earlier name of [`BannedWordsPolicyFactory`].
pub use BannedWordsPolicyFactory as BannedWordsFactory;

#[async_trait]
impl TypedFactory<dyn Policy> for BannedWordsPolicyFactory {
    type Config = BannedWordsConfig;
    const TYPE_NAME: &'static str = "banned-words";
    const DESCRIPTION: &'static str =
        "Banned terms with look-alike substitutions, edit-distance-1 matching and a score (Entra Password Protection's algorithm).";

    fn check(&self, typed: &BannedWordsConfig, config: &ConnectorConfig) -> Vec<ConfigError> {
        typed.check(config)
    }

    async fn build_from(
        &self,
        typed: BannedWordsConfig,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<Arc<dyn Policy>, ConfigError> {
        let normalizer = typed.normalizer();
        let terms = typed.load_terms(config, ctx, &normalizer)?;
        Ok(Arc::new(BannedWordsPolicy::new(typed, normalizer, terms)))
    }
}
