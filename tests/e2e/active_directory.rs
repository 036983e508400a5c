//! The `active-directory` target and the `directory` policy against a real Samba AD DC
//! (from `writeback_testkit::samba`). Every test makes its own users: they share one DC.

use std::path::Path;

use base64::Engine;
use writeback_core::{
    Account, BuildContext, CloudIdentity, ConnectorConfig, ConnectorFactory, ConnectorKind,
    DirectoryTarget, Operation, Outcome, OutcomeCode, Password, SecretRef, SecretResolver,
};
use writeback_target_active_directory::{ActiveDirectoryTarget, ActiveDirectoryTargetFactory};
use writeback_testkit::samba::{self, seed, NewUser, Ou, SambaDc, TestUser};

/// Resolves only inline secrets (tests write the service account's password inline).
struct InlineSecrets;

impl SecretResolver for InlineSecrets {
    fn resolve(&self, secret: &SecretRef) -> Result<Password, writeback_core::SecretError> {
        secret.value.clone().ok_or_else(|| {
            writeback_core::SecretError::Unsupported("tests use inline secrets only".into())
        })
    }
}

/// The target's TOML table for `dc`, bound as the delegated service account, plus `extra`.
fn table(dc: &SambaDc, extra: &str) -> toml::Table {
    let svc = dc.service_account();
    let text = format!(
        "url = \"{}\"\nca_file = \"{}\"\nbind_dn = \"{}\"\nbind_password = {{ value = \"{}\" }}\nbase_dn = \"{}\"\n{extra}",
        dc.ldaps_url(),
        dc.ca_file().display(),
        svc.upn,
        svc.password,
        dc.base_dn()
    );
    toml::from_str(&text).unwrap_or_default()
}

fn connector_config(table: toml::Table) -> ConnectorConfig {
    ConnectorConfig::in_code(
        ConnectorKind::Target,
        ActiveDirectoryTargetFactory::TYPE_NAME,
        "ad",
        table,
    )
}

async fn target_with(dc: &SambaDc, extra: &str) -> anyhow::Result<ActiveDirectoryTarget> {
    let ctx = BuildContext {
        secrets: &InlineSecrets,
        base_dir: Path::new("/"),
    };
    Ok(ActiveDirectoryTargetFactory
        .build_target(&connector_config(table(dc, extra)), &ctx)
        .await?)
}

async fn target(dc: &SambaDc) -> anyhow::Result<ActiveDirectoryTarget> {
    target_with(dc, "").await
}

fn by_upn(user: &TestUser) -> CloudIdentity {
    CloudIdentity {
        upn: Some(user.upn.clone()),
        ..Default::default()
    }
}

fn reset(password: &str, must_change: bool) -> Operation {
    Operation::Reset {
        new_password: Password::new(password),
        must_change,
    }
}

fn change(old: &str, new: &str) -> Operation {
    Operation::Change {
        old_password: Password::new(old),
        new_password: Password::new(new),
    }
}

/// Resolves and applies, as the pipeline does.
async fn run(
    target: &ActiveDirectoryTarget,
    user: &TestUser,
    op: &Operation,
) -> Result<Account, Outcome> {
    let account = target.resolve(&by_upn(user)).await?;
    target.apply(&account, op).await?;
    Ok(account)
}

/// The outcome of a request that must fail, checked for leaked passwords.
async fn refused(
    target: &ActiveDirectoryTarget,
    user: &TestUser,
    op: &Operation,
    secrets: &[&str],
) -> Outcome {
    let outcome = match run(target, user, op).await {
        Ok(_) => panic!("expected a refusal for {}", user.sam),
        Err(o) => o,
    };
    let shown = serde_json::to_string(&outcome).unwrap_or_default();
    for secret in secrets {
        assert!(
            !shown.contains(secret),
            "a password leaked into the outcome: {shown}"
        );
    }
    outcome
}

async fn staff_user(dc: &SambaDc, prefix: &str, password: &str) -> anyhow::Result<TestUser> {
    Ok(dc
        .add_user(NewUser::new(&dc.unique_name(prefix), password))
        .await?)
}

#[tokio::test]
async fn test_dc_has_the_fixtures() -> anyhow::Result<()> {
    let dc = samba::shared()?;
    let svc = dc.service_account();
    dc.bind_as(&svc.upn, &svc.password).await?;
    let strict = dc
        .add_user(
            NewUser::new(&dc.unique_name("kit"), "Kit!Initial-Pass1-Long")
                .member_of(&dc.group_dn(seed::STRICT_GROUP)),
        )
        .await?;
    let pso = dc.read_one(&strict.dn, "msDS-ResultantPSO").await?;
    assert!(pso.unwrap_or_default().starts_with("CN=strict-pso"));
    Ok(())
}

#[tokio::test]
async fn reset_then_the_user_binds_with_the_new_password_only() -> anyhow::Result<()> {
    let dc = samba::shared()?;
    let user = staff_user(dc, "rst", "Reset!Initial-1").await?;
    let target = target(dc).await?;
    let account = run(&target, &user, &reset("Reset!Marker-New-2", false))
        .await
        .map_err(|o| anyhow::anyhow!("{o:?}"))?;
    assert_eq!(account.dn, user.dn);
    dc.bind_as(&user.upn, "Reset!Marker-New-2").await?;
    let old = dc.bind_as(&user.upn, "Reset!Initial-1").await;
    assert_eq!(
        old.err().map(|e| e.rc),
        Some(49),
        "the old password must stop working"
    );
    Ok(())
}

#[tokio::test]
async fn reset_over_starttls_works_too() -> anyhow::Result<()> {
    let dc = samba::shared()?;
    let user = staff_user(dc, "stls", "StartTls!Initial-1").await?;
    let mut t = table(dc, "starttls = true");
    t.insert("url".into(), toml::Value::String(dc.ldap_url()));
    let ctx = BuildContext {
        secrets: &InlineSecrets,
        base_dir: Path::new("/"),
    };
    let target = ActiveDirectoryTargetFactory
        .build_target(&connector_config(t), &ctx)
        .await?;
    run(&target, &user, &reset("StartTls!Marker-2", false))
        .await
        .map_err(|o| anyhow::anyhow!("{o:?}"))?;
    dc.bind_as(&user.upn, "StartTls!Marker-2").await?;
    Ok(())
}

#[tokio::test]
async fn must_change_makes_the_next_bind_fail_with_773() -> anyhow::Result<()> {
    let dc = samba::shared()?;
    let user = staff_user(dc, "mchg", "MustChange!Init-1").await?;
    let target = target(dc).await?;
    run(&target, &user, &reset("MustChange!Marker-2", true))
        .await
        .map_err(|o| anyhow::anyhow!("{o:?}"))?;
    assert_eq!(
        dc.read_one(&user.dn, "pwdLastSet").await?.as_deref(),
        Some("0")
    );
    let bind = dc.bind_as(&user.upn, "MustChange!Marker-2").await;
    let refused = bind
        .err()
        .ok_or_else(|| anyhow::anyhow!("bind must fail while a change is due"))?;
    assert_eq!(refused.rc, 49);
    assert_eq!(refused.data_code().as_deref(), Some("773"), "{refused}");
    Ok(())
}

/// Verified writes: an account with "password never expires" takes the password and
/// `pwdLastSet: 0`, but Samba (like Windows) never asks the person to change it. The
/// read-back after the write sees it and says so: the password was set, must-change
/// did not stick, and why.
#[tokio::test]
async fn must_change_that_does_not_stick_is_reported() -> anyhow::Result<()> {
    let dc = samba::shared()?;
    let user = staff_user(dc, "nexp", "NeverExp!Init-1").await?;
    // NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD
    dc.replace(&user.dn, "userAccountControl", &["66048"])
        .await?;
    let target = target(dc).await?;
    let o = refused(
        &target,
        &user,
        &reset("NeverExp!Marker-2", true),
        &["NeverExp!Marker"],
    )
    .await;
    assert_eq!(o.code, OutcomeCode::AdminActionRequired);
    assert!(o.message.contains("was set"), "{}", o.message);
    let detail = o.admin_detail.unwrap_or_default();
    assert!(detail.contains("must-change did not stick"), "{detail}");
    assert!(detail.contains("never expires"), "{detail}");
    assert!(detail.contains(&user.dn), "{detail}");
    // What the outcome says happened did happen: the new password works, with no
    // change asked for.
    dc.bind_as(&user.upn, "NeverExp!Marker-2").await?;
    Ok(())
}

/// Verified writes: a reset of a disabled account is written, and the outcome says
/// the person still cannot sign in.
#[tokio::test]
async fn reset_of_a_disabled_account_says_it_is_disabled() -> anyhow::Result<()> {
    let dc = samba::shared()?;
    let user = staff_user(dc, "dis", "Disabled!Init-1").await?;
    // NORMAL_ACCOUNT | ACCOUNTDISABLE
    dc.replace(&user.dn, "userAccountControl", &["514"]).await?;
    let target = target(dc).await?;
    let o = refused(
        &target,
        &user,
        &reset("Disabled!Marker-2", false),
        &["Disabled!Marker"],
    )
    .await;
    assert_eq!(o.code, OutcomeCode::AdminActionRequired);
    let detail = o.admin_detail.unwrap_or_default();
    assert!(detail.contains("disabled"), "{detail}");
    // Enabled again, the account takes the password the outcome says was set.
    dc.replace(&user.dn, "userAccountControl", &["512"]).await?;
    dc.bind_as(&user.upn, "Disabled!Marker-2").await?;
    Ok(())
}

/// With `verify_writes = false` the read-back is skipped (the write alone decides).
#[tokio::test]
async fn verification_can_be_turned_off() -> anyhow::Result<()> {
    let dc = samba::shared()?;
    let user = staff_user(dc, "nover", "NoVerify!Init-1").await?;
    dc.replace(&user.dn, "userAccountControl", &["514"]).await?;
    let target = target_with(dc, "verify_writes = false").await?;
    run(&target, &user, &reset("NoVerify!Marker-2", false))
        .await
        .map_err(|o| anyhow::anyhow!("{o:?}"))?;
    Ok(())
}

#[tokio::test]
async fn complexity_length_and_history_each_get_their_own_code() -> anyhow::Result<()> {
    let dc = samba::shared()?;
    let user = staff_user(dc, "rule", "Rules!Initial-1").await?;
    let target = target(dc).await?;

    let o = refused(
        &target,
        &user,
        &reset("alllowercaseletters", false),
        &["alllowercase"],
    )
    .await;
    assert_eq!(o.code, OutcomeCode::RejectedPolicy);
    assert_eq!(
        o.rules.first().map(|r| r.rule.as_str()),
        Some("directory.complexity"),
        "{o:?}"
    );

    let o = refused(&target, &user, &reset("Ab1!x", false), &["Ab1!x"]).await;
    assert_eq!(o.code, OutcomeCode::RejectedPolicy);
    assert_eq!(
        o.rules.first().map(|r| r.rule.as_str()),
        Some("directory.min_length"),
        "{o:?}"
    );
    assert!(o.rules[0].message.contains("at least 7"), "{o:?}");

    // History applies to changes (AD checks them against the last 24 passwords).
    run(
        &target,
        &user,
        &change("Rules!Initial-1", "Rules!Marker-Second-2"),
    )
    .await
    .map_err(|o| anyhow::anyhow!("{o:?}"))?;
    let o = refused(
        &target,
        &user,
        &change("Rules!Marker-Second-2", "Rules!Initial-1"),
        &["Rules!"],
    )
    .await;
    assert_eq!(o.code, OutcomeCode::RejectedHistory, "{o:?}");
    Ok(())
}

#[tokio::test]
async fn change_with_a_wrong_old_password_is_refused() -> anyhow::Result<()> {
    let dc = samba::shared()?;
    let user = staff_user(dc, "wold", "WrongOld!Initial-1").await?;
    let target = target(dc).await?;
    let o = refused(
        &target,
        &user,
        &change("Not!The-Old-Marker9", "WrongOld!New-Marker-2"),
        &["Marker"],
    )
    .await;
    assert_eq!(o.code, OutcomeCode::WrongOldPassword, "{o:?}");
    dc.bind_as(&user.upn, "WrongOld!Initial-1").await?;
    // And a right one goes through.
    run(
        &target,
        &user,
        &change("WrongOld!Initial-1", "WrongOld!New-Marker-2"),
    )
    .await
    .map_err(|o| anyhow::anyhow!("{o:?}"))?;
    dc.bind_as(&user.upn, "WrongOld!New-Marker-2").await?;
    Ok(())
}

#[tokio::test]
async fn unlock_after_the_lockout_threshold() -> anyhow::Result<()> {
    let dc = samba::shared()?;
    let user = staff_user(dc, "lock", "Lockout!Initial-1").await?;
    for _ in 0..seed::LOCKOUT_THRESHOLD {
        let _ = dc.bind_as(&user.upn, "Wrong!Password-0").await;
    }
    let locked = dc.bind_as(&user.upn, "Lockout!Initial-1").await;
    assert_eq!(
        locked.err().and_then(|e| e.data_code()).as_deref(),
        Some("775")
    );
    let target = target(dc).await?;
    run(&target, &user, &Operation::Unlock)
        .await
        .map_err(|o| anyhow::anyhow!("{o:?}"))?;
    dc.bind_as(&user.upn, "Lockout!Initial-1").await?;
    Ok(())
}

#[tokio::test]
async fn unlock_on_reset_clears_a_lockout() -> anyhow::Result<()> {
    let dc = samba::shared()?;
    let user = staff_user(dc, "lkrs", "LockReset!Initial-1").await?;
    for _ in 0..seed::LOCKOUT_THRESHOLD {
        let _ = dc.bind_as(&user.upn, "Wrong!Password-0").await;
    }
    let target = target_with(dc, "unlock_on_reset = true").await?;
    run(&target, &user, &reset("LockReset!Marker-2", false))
        .await
        .map_err(|o| anyhow::anyhow!("{o:?}"))?;
    dc.bind_as(&user.upn, "LockReset!Marker-2").await?;
    Ok(())
}

#[tokio::test]
async fn minimum_age_refuses_a_change_too_soon() -> anyhow::Result<()> {
    let dc = samba::shared()?;
    let user = dc
        .add_user(
            NewUser::new(&dc.unique_name("age"), "MinAge!Initial-1")
                .member_of(&dc.group_dn(seed::MIN_AGE_GROUP)),
        )
        .await?;
    let target = target(dc).await?;
    let o = refused(
        &target,
        &user,
        &change("MinAge!Initial-1", "MinAge!Marker-2"),
        &["MinAge!"],
    )
    .await;
    assert_eq!(o.code, OutcomeCode::RejectedMinAge, "{o:?}");
    Ok(())
}

#[tokio::test]
async fn fine_grained_policy_applies_to_its_group_only() -> anyhow::Result<()> {
    let dc = samba::shared()?;
    let strict = dc
        .add_user(
            NewUser::new(&dc.unique_name("fgp"), "Strict!Initial-Pass-1")
                .member_of(&dc.group_dn(seed::STRICT_GROUP)),
        )
        .await?;
    let plain = staff_user(dc, "fgn", "Plain!Initial-1").await?;
    let target = target(dc).await?;
    // 11 characters: enough for the domain (7), too short for the PSO (14).
    let o = refused(
        &target,
        &strict,
        &reset("Fgp!Marker1", false),
        &["Fgp!Marker1"],
    )
    .await;
    assert_eq!(o.code, OutcomeCode::RejectedPolicy);
    assert_eq!(
        o.rules.first().map(|r| r.rule.as_str()),
        Some("directory.min_length")
    );
    assert!(o.rules[0].message.contains("at least 14"), "{o:?}");
    run(&target, &plain, &reset("Fgp!Marker1", false))
        .await
        .map_err(|o| anyhow::anyhow!("{o:?}"))?;
    Ok(())
}

#[tokio::test]
async fn protected_accounts_are_refused() -> anyhow::Result<()> {
    let dc = samba::shared()?;
    let target = target(dc).await?;
    let identity = CloudIdentity {
        username: Some(seed::PROTECTED_USER.into()),
        upn: Some(format!("{}@example.test", seed::PROTECTED_USER)),
        ..Default::default()
    };
    let account = target
        .resolve(&identity)
        .await
        .map_err(|o| anyhow::anyhow!("{o:?}"))?;
    assert_eq!(account.dn, dc.protected_user_dn());
    let o = target
        .apply(&account, &reset("Takeover!Marker-1", false))
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("a domain admin's reset must be refused"))?;
    assert_eq!(o.code, OutcomeCode::AdminActionRequired);
    let detail = o.admin_detail.unwrap_or_default();
    assert!(detail.contains("Domain Admins"), "{detail}");
    // The delegated ACEs reach it (it is in OU=Staff): only the check stopped the write.
    dc.bind_as(&account.dn, "ItAdmin!Initial-Pass1").await?;
    Ok(())
}

#[tokio::test]
async fn delegated_account_outside_its_ou_gets_the_missing_right_named() -> anyhow::Result<()> {
    let dc = samba::shared()?;
    let user = dc
        .add_user(NewUser::new(&dc.unique_name("oth"), "Other!Initial-1").in_ou(Ou::Other))
        .await?;
    let target = target(dc).await?;
    let o = refused(
        &target,
        &user,
        &reset("Other!Marker-2", false),
        &["Other!Marker"],
    )
    .await;
    assert_eq!(o.code, OutcomeCode::AdminActionRequired);
    let detail = o.admin_detail.unwrap_or_default();
    assert!(detail.contains("Reset Password"), "{detail}");
    assert!(detail.contains(&user.dn), "{detail}");
    let o = refused(&target, &user, &Operation::Unlock, &[]).await;
    let detail = o.admin_detail.unwrap_or_default();
    assert!(detail.contains("write lockoutTime"), "{detail}");
    dc.bind_as(&user.upn, "Other!Initial-1").await?;
    Ok(())
}

#[tokio::test]
async fn identity_by_object_guid_from_a_base64_immutable_id() -> anyhow::Result<()> {
    let dc = samba::shared()?;
    let user = staff_user(dc, "guid", "Guid!Initial-1").await?;
    let target = target_with(dc, "match = [{ attribute = \"objectGUID\" }]").await?;
    let identity = CloudIdentity {
        immutable_id: Some(base64::engine::general_purpose::STANDARD.encode(&user.object_guid)),
        // A UPN of somebody else must not matter: the anchor decides.
        upn: Some("someone.else@example.test".into()),
        ..Default::default()
    };
    let account = target
        .resolve(&identity)
        .await
        .map_err(|o| anyhow::anyhow!("{o:?}"))?;
    assert_eq!(account.dn, user.dn);
    assert_eq!(
        account.first("immutable_id"),
        identity.immutable_id.as_deref()
    );
    target
        .apply(&account, &reset("Guid!Marker-2", false))
        .await
        .map_err(|o| anyhow::anyhow!("{o:?}"))?;
    dc.bind_as(&user.upn, "Guid!Marker-2").await?;
    Ok(())
}

#[tokio::test]
async fn identity_by_consistency_guid_source_anchor() -> anyhow::Result<()> {
    let dc = samba::shared()?;
    let user = staff_user(dc, "cguid", "Anchor!Initial-1").await?;
    // An anchor different from objectGUID, as after a forest migration.
    let anchor: Vec<u8> = (0u8..16)
        .map(|b| b.wrapping_mul(37).wrapping_add(0x28))
        .collect();
    let value = std::collections::HashSet::from([anchor.clone()]);
    dc.modify(
        &user.dn,
        vec![ldap3::Mod::Replace(
            b"mS-DS-ConsistencyGuid".to_vec(),
            value,
        )],
    )
    .await?;
    let target = target_with(dc, "match = [{ attribute = \"mS-DS-ConsistencyGuid\" }]").await?;
    let identity = |bytes: &[u8]| CloudIdentity {
        immutable_id: Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
        ..Default::default()
    };
    let account = target
        .resolve(&identity(&anchor))
        .await
        .map_err(|o| anyhow::anyhow!("{o:?}"))?;
    assert_eq!(account.dn, user.dn);
    // The objectGUID is not the anchor here: it matches nothing.
    let o = target
        .resolve(&identity(&user.object_guid))
        .await
        .err()
        .map(|o| o.code);
    assert_eq!(o, Some(OutcomeCode::NotFound));
    // Not a GUID at all: refused before any search.
    let bad = CloudIdentity {
        immutable_id: Some("bm90IGEgZ3VpZA==".into()),
        ..Default::default()
    };
    assert_eq!(
        target.resolve(&bad).await.err().map(|o| o.code),
        Some(OutcomeCode::InvalidRequest)
    );
    Ok(())
}

#[tokio::test]
async fn non_ascii_and_astral_plane_passwords_round_trip() -> anyhow::Result<()> {
    let dc = samba::shared()?;
    let user = staff_user(dc, "utf", "Utf!Initial-1").await?;
    let target = target(dc).await?;
    for password in [
        "Pässwörd-Ünïcode-9",
        "Astral-\u{1F600}-\u{10348}-x9Y",
        "Quote\"In-Side-7x",
    ] {
        run(&target, &user, &reset(password, false))
            .await
            .map_err(|o| anyhow::anyhow!("{o:?}"))?;
        dc.bind_as(&user.upn, password).await?;
    }
    Ok(())
}

#[tokio::test]
async fn plain_ldap_config_is_refused_at_load() -> anyhow::Result<()> {
    let dc = samba::shared()?;
    let mut t = table(dc, "");
    t.insert("url".into(), toml::Value::String(dc.ldap_url()));
    let err = ActiveDirectoryTargetFactory
        .validate(&connector_config(t.clone()))
        .err()
        .ok_or_else(|| anyhow::anyhow!("ldap:// without StartTLS must be refused"))?;
    let text = err.to_string();
    assert!(text.contains("url") && text.contains("TLS"), "{text}");
    t.insert("allow_plaintext".into(), toml::Value::Boolean(true));
    let err = ActiveDirectoryTargetFactory
        .validate(&connector_config(t))
        .err()
        .map(|e| e.to_string());
    assert!(err.unwrap_or_default().contains("only over TLS"));
    Ok(())
}

#[tokio::test]
async fn identities_are_escaped_and_must_match_exactly_one() -> anyhow::Result<()> {
    let dc = samba::shared()?;
    let target = target_with(dc, "match = [{ attribute = \"mail\" }]").await?;
    let shared_mail = format!("{}@shared.example.test", dc.unique_name("dup"));
    for _ in 0..2 {
        dc.add_user(NewUser::new(&dc.unique_name("dup"), "Dup!Initial-1").mail(&shared_mail))
            .await?;
    }
    let identity = |mail: &str| CloudIdentity {
        mail: Some(mail.to_string()),
        ..Default::default()
    };
    let o = target
        .resolve(&identity(&shared_mail))
        .await
        .err()
        .map(|o| o.code);
    assert_eq!(o, Some(OutcomeCode::AmbiguousIdentity));
    let o = target.resolve(&identity("*")).await.err().map(|o| o.code);
    assert_eq!(
        o,
        Some(OutcomeCode::NotFound),
        "a wildcard must stay a literal"
    );
    let o = target
        .resolve(&identity("*)(objectClass=*"))
        .await
        .err()
        .map(|o| o.code);
    assert_eq!(o, Some(OutcomeCode::NotFound));
    Ok(())
}

#[tokio::test]
async fn proxy_addresses_match_with_or_without_the_smtp_prefix() -> anyhow::Result<()> {
    let dc = samba::shared()?;
    let name = dc.unique_name("prx");
    let address = format!("{name}@proxy.example.test");
    let user = dc
        .add_user(NewUser::new(&name, "Proxy!Initial-1").proxy_address(&format!("SMTP:{address}")))
        .await?;
    let target = target_with(dc, "match = [{ attribute = \"proxyAddresses\" }]").await?;
    for mail in [address.clone(), format!("smtp:{address}")] {
        let identity = CloudIdentity {
            mail: Some(mail),
            ..Default::default()
        };
        let account = target
            .resolve(&identity)
            .await
            .map_err(|o| anyhow::anyhow!("{o:?}"))?;
        assert_eq!(account.dn, user.dn);
    }
    Ok(())
}

#[tokio::test]
async fn policy_hints_support_is_detected_from_the_root_dse() -> anyhow::Result<()> {
    let dc = samba::shared()?;
    let target = target(dc).await?;
    let root = target
        .root_dse()
        .await
        .map_err(|o| anyhow::anyhow!("{o:?}"))?;
    // Samba 4.17 does not list LDAP_SERVER_POLICY_HINTS: resets go without it.
    assert_eq!(
        root.policy_hints_oid(),
        None,
        "{:?}",
        root.supported_controls
    );
    // And it does not honour the control when asked: critical, it is refused with 12.
    let user = staff_user(dc, "hint", "Hints!Initial-1").await?;
    let mut ldap = dc.admin().await?;
    let hints = ldap3::controls::RawControl {
        ctype: "1.2.840.113556.1.4.2239".into(),
        crit: true,
        val: Some(vec![0x30, 0x03, 0x02, 0x01, 0x01]),
    };
    let value = std::collections::HashSet::from([samba::unicode_pwd("Hints!Marker-2")]);
    let result = ldap
        .with_controls(hints)
        .modify(
            &user.dn,
            vec![ldap3::Mod::Replace(b"unicodePwd".to_vec(), value)],
        )
        .await?;
    assert_eq!(result.rc, 12, "{}", result.text);
    Ok(())
}

#[tokio::test]
async fn search_returns_accounts_with_the_object_guid_as_id() -> anyhow::Result<()> {
    let dc = samba::shared()?;
    let user = staff_user(dc, "srch", "Search!Initial-1").await?;
    let target = target(dc).await?;
    let found = target
        .search(Some(("upn", &user.upn)), 10)
        .await
        .map_err(|o| anyhow::anyhow!("{o:?}"))?;
    assert_eq!(found.len(), 1);
    let id = found[0].id.clone().unwrap_or_default();
    assert_eq!(id.len(), 36, "{id}");
    let again = target
        .search(Some(("immutable_id", &id)), 10)
        .await
        .map_err(|o| anyhow::anyhow!("{o:?}"))?;
    assert_eq!(again.first().map(|a| a.dn.as_str()), Some(user.dn.as_str()));
    let all = target
        .search(None, 1000)
        .await
        .map_err(|o| anyhow::anyhow!("{o:?}"))?;
    assert!(all.iter().any(|a| a.dn == user.dn));
    let three = target
        .search(None, 3)
        .await
        .map_err(|o| anyhow::anyhow!("{o:?}"))?;
    assert_eq!(three.len(), 3);
    // The connection that stopped early is not reused: the next lookup still works.
    let again = target
        .search(Some(("username", &user.sam)), 10)
        .await
        .map_err(|o| anyhow::anyhow!("{o:?}"))?;
    assert_eq!(again.len(), 1);
    Ok(())
}

#[tokio::test]
async fn self_test_reports_tls_bind_hints_and_delegated_rights() -> anyhow::Result<()> {
    let dc = samba::shared()?;
    let target = target(dc).await?;
    let checks = target.self_test().await;
    for check in &checks {
        assert!(check.ok, "{check:?}");
    }
    let names: Vec<&str> = checks.iter().map(|c| c.check.as_str()).collect();
    assert_eq!(
        names,
        ["tls", "bind", "policy_hints", "base_dn", "permissions"]
    );
    let permissions = &checks[4].detail;
    let staff = format!(
        "{}: Reset Password, write pwdLastSet, write lockoutTime",
        Ou::Staff.dn()
    );
    let other = format!("{}: none", Ou::Other.dn());
    assert!(permissions.contains(&staff), "{permissions}");
    assert!(permissions.contains(&other), "{permissions}");

    let mut t = table(dc, "");
    t.insert(
        "bind_password".into(),
        toml::Value::Table(toml::toml! { value = "Wrong!Marker-9" }),
    );
    let ctx = BuildContext {
        secrets: &InlineSecrets,
        base_dir: Path::new("/"),
    };
    let wrong = ActiveDirectoryTargetFactory
        .build_target(&connector_config(t), &ctx)
        .await?;
    let checks = wrong.self_test().await;
    let bind = checks
        .iter()
        .find(|c| c.check == "bind")
        .ok_or_else(|| anyhow::anyhow!("{checks:?}"))?;
    assert!(!bind.ok);
    assert!(
        bind.detail.contains("wrong password") && !bind.detail.contains("Marker"),
        "{bind:?}"
    );
    Ok(())
}

mod directory_policy {
    use super::*;
    use writeback_core::{Policy, PolicyContext, RuleViolation};
    use writeback_policy_directory::{DirectoryPolicy, DirectoryPolicyFactory};

    async fn policy(dc: &SambaDc) -> anyhow::Result<DirectoryPolicy> {
        let mut t = table(dc, "target = \"ad\"\nrefresh_seconds = 60");
        t.remove("base_dn");
        let config = ConnectorConfig::in_code(
            ConnectorKind::Policy,
            DirectoryPolicyFactory::TYPE_NAME,
            "dir",
            t,
        );
        let ctx = BuildContext {
            secrets: &InlineSecrets,
            base_dir: Path::new("/"),
        };
        Ok(DirectoryPolicyFactory.build_policy(&config, &ctx).await?)
    }

    /// Resolves `user` with the target, then asks the policy about `password`.
    async fn judge(
        dc: &SambaDc,
        user: &TestUser,
        password: &str,
    ) -> anyhow::Result<Vec<RuleViolation>> {
        let target = target(dc).await?;
        let identity = by_upn(user);
        let account = target
            .resolve(&identity)
            .await
            .map_err(|o| anyhow::anyhow!("{o:?}"))?;
        let accounts = vec![("ad".to_string(), account)];
        // A person's own change: every rule applies, minimum age included.
        let context = PolicyContext {
            operation: writeback_core::OperationKind::Change,
            identity: &identity,
            accounts: &accounts,
        };
        let rules = policy(dc)
            .await?
            .evaluate(&Password::new(password), &context)
            .await
            .map_err(|o| anyhow::anyhow!("{o:?}"))?;
        let shown = serde_json::to_string(&rules)?;
        assert!(
            !shown.contains(password),
            "the password leaked into a rule: {shown}"
        );
        Ok(rules)
    }

    fn ids(rules: &[RuleViolation]) -> Vec<&str> {
        rules.iter().map(|r| r.rule.as_str()).collect()
    }

    #[tokio::test]
    async fn reads_the_domain_policy() -> anyhow::Result<()> {
        let dc = samba::shared()?;
        let domain = policy(dc)
            .await?
            .domain_policy()
            .await
            .map_err(|o| anyhow::anyhow!("{o:?}"))?;
        assert_eq!(domain.source, "domain");
        assert_eq!(domain.min_length, 7);
        assert!(domain.complexity);
        assert_eq!(domain.history_length, 24);
        assert_eq!(domain.min_age, 0);
        assert_eq!(domain.lockout_threshold, seed::LOCKOUT_THRESHOLD);
        Ok(())
    }

    #[tokio::test]
    async fn fine_grained_policy_is_read_for_its_group_only() -> anyhow::Result<()> {
        let dc = samba::shared()?;
        let strict = dc
            .add_user(
                NewUser::new(&dc.unique_name("pfg"), "PolStrict!Initial-1")
                    .member_of(&dc.group_dn(seed::STRICT_GROUP)),
            )
            .await?;
        let plain = staff_user(dc, "pfn", "PolPlain!Initial-1").await?;
        let p = policy(dc).await?;
        let effective = p
            .effective_for(&strict.dn)
            .await
            .map_err(|o| anyhow::anyhow!("{o:?}"))?;
        assert!(
            effective.source.starts_with("CN=strict-pso"),
            "{effective:?}"
        );
        assert_eq!(effective.min_length, seed::STRICT_MIN_LENGTH);
        let rules = judge(dc, &strict, "Pol!Marker1").await?;
        assert_eq!(ids(&rules), ["directory.min_length"]);
        assert!(rules[0].message.contains("at least 14"), "{rules:?}");
        assert!(judge(dc, &plain, "Pol!Marker1").await?.is_empty());
        Ok(())
    }

    #[tokio::test]
    async fn complexity_and_names_are_checked_as_ad_does() -> anyhow::Result<()> {
        let dc = samba::shared()?;
        let user = dc
            .add_user(
                NewUser::new(&dc.unique_name("pcx"), "PolCx!Initial-1").display_name("Erin Hagens"),
            )
            .await?;
        assert_eq!(
            ids(&judge(dc, &user, "alllowercaseletters").await?),
            ["directory.complexity"]
        );
        let with_name = format!("X1!{}", user.sam);
        assert_eq!(
            ids(&judge(dc, &user, &with_name).await?),
            ["directory.complexity.name"]
        );
        assert_eq!(
            ids(&judge(dc, &user, "Hagens!2024-x").await?),
            ["directory.complexity.name"]
        );
        assert!(judge(dc, &user, "Good!Marker-2024").await?.is_empty());
        Ok(())
    }

    #[tokio::test]
    async fn a_policy_naming_an_unknown_target_says_so() -> anyhow::Result<()> {
        let dc = samba::shared()?;
        let user = staff_user(dc, "pnt", "PolTarget!Initial-1").await?;
        let target = target(dc).await?;
        let identity = by_upn(&user);
        let account = target
            .resolve(&identity)
            .await
            .map_err(|o| anyhow::anyhow!("{o:?}"))?;
        let accounts = vec![("corp-ad".to_string(), account)];
        let context = PolicyContext {
            operation: writeback_core::OperationKind::Reset,
            identity: &identity,
            accounts: &accounts,
        };
        let outcome = policy(dc)
            .await?
            .evaluate(&Password::new("PolTarget!Marker-2"), &context)
            .await
            .err()
            .ok_or_else(|| anyhow::anyhow!("a wrong `target` must not pass silently"))?;
        assert_eq!(outcome.code, OutcomeCode::AdminActionRequired);
        let detail = outcome.admin_detail.unwrap_or_default();
        assert!(
            detail.contains("`ad`") && detail.contains("corp-ad"),
            "{detail}"
        );
        Ok(())
    }

    #[tokio::test]
    async fn minimum_age_is_checked_before_the_write() -> anyhow::Result<()> {
        let dc = samba::shared()?;
        let user = dc
            .add_user(
                NewUser::new(&dc.unique_name("pag"), "PolAge!Initial-1")
                    .member_of(&dc.group_dn(seed::MIN_AGE_GROUP)),
            )
            .await?;
        let rules = judge(dc, &user, "PolAge!Marker-2").await?;
        assert_eq!(ids(&rules), ["directory.min_age"]);
        assert!(rules[0].message.contains("1 day"), "{rules:?}");
        Ok(())
    }
}

/// The same proofs through the real host and the real webhook source (HTTPS, signed):
/// what a cloud service would send, answered in the same request.
mod through_webhook {
    use super::*;
    use crate::support::{assert_no_leak, expect, notifier};
    use base64::Engine as _;
    use writeback_source_webhook::client::RequestBody;
    use writeback_tests::engine::write_secret;
    use writeback_tests::{Engine, Receiver};

    /// `[[targets]]` and `[[policies]]` for the test DC, secrets in files.
    fn ad_config(dc: &SambaDc, dir: &Path) -> String {
        let svc = dc.service_account();
        let secret = write_secret(dir, "ad-bind", &svc.password);
        let connection = format!(
            "url = \"{url}\"\nca_file = \"{ca}\"\nbind_dn = \"{bind}\"\nbind_password = {{ file = \"{secret}\" }}\n",
            url = dc.ldaps_url(),
            ca = dc.ca_file().display(),
            bind = svc.upn,
            secret = secret.display(),
        );
        format!(
            "[pipeline]\ndeadline_ms = 15000\n\n[[targets]]\ntype = \"active-directory\"\nname = \"ad\"\n{connection}\
             base_dn = \"{base}\"\nmatch = [{{ attribute = \"objectGUID\" }}, {{ attribute = \"userPrincipalName\" }}]\n\n\
             [[policies]]\ntype = \"directory\"\ntarget = \"ad\"\n{connection}\n",
            base = dc.base_dn(),
        )
    }

    async fn engine(dc: &SambaDc, receiver: &Receiver) -> Engine {
        Engine::start(|dir| format!("{}{}", ad_config(dc, dir), notifier(receiver, dir))).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reset_by_immutable_id_lands_in_ad_and_the_person_binds() -> anyhow::Result<()> {
        let dc = samba::shared()?;
        let user = staff_user(dc, "whrs", "Webhook!Initial-1").await?;
        let receiver = Receiver::start().await;
        let e = engine(dc, &receiver).await;
        let marker = "Webhook!Marker-Nw1-\u{1F511}";
        let identity = CloudIdentity {
            immutable_id: Some(base64::engine::general_purpose::STANDARD.encode(&user.object_guid)),
            ..Default::default()
        };
        let answer = e
            .send(&RequestBody::reset(
                "ad-wh-reset-1",
                identity,
                Password::new(marker),
                false,
            ))
            .await;
        expect(&answer, OutcomeCode::Succeeded, 200);
        dc.bind_as(&user.upn, marker).await?;
        assert!(dc.bind_as(&user.upn, "Webhook!Initial-1").await.is_err());
        let event = receiver
            .wait_for("ad-wh-reset-1")
            .await
            .ok_or_else(|| anyhow::anyhow!("no notification"))?;
        assert_eq!(event["targets"][0]["dn"], user.dn.as_str());
        e.audit_records(1).await;
        assert_no_leak(&e, Some(&receiver), marker).await;
        e.stop().await.map_err(anyhow::Error::msg)?;
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refusals_come_back_with_precise_reasons() -> anyhow::Result<()> {
        let dc = samba::shared()?;
        let strict = dc
            .add_user(
                NewUser::new(&dc.unique_name("whfg"), "WebhookFg!Initial-1")
                    .member_of(&dc.group_dn(seed::STRICT_GROUP)),
            )
            .await?;
        let plain = staff_user(dc, "whwo", "WebhookWo!Initial-1").await?;
        let receiver = Receiver::start().await;
        let e = engine(dc, &receiver).await;
        let marker = "Whk!Marker1";

        // The fine-grained policy, checked by the `directory` policy before the write.
        let answer = e
            .send(&RequestBody::reset(
                "ad-wh-fgp",
                by_upn(&strict),
                Password::new(marker),
                false,
            ))
            .await;
        expect(&answer, OutcomeCode::RejectedPolicy, 422);
        let rules: Vec<&str> = answer.reply.rules.iter().map(|r| r.rule.as_str()).collect();
        assert_eq!(rules, ["directory.min_length"]);
        assert!(answer.reply.rules[0].message.contains("at least 14"));
        dc.bind_as(&strict.upn, "WebhookFg!Initial-1").await?;

        // A wrong old password, found by AD itself.
        let answer = e
            .send(&RequestBody::change(
                "ad-wh-old",
                by_upn(&plain),
                Password::new("Not!The-Old-Marker9"),
                Password::new("WhkNew!Marker-22"),
            ))
            .await;
        expect(&answer, OutcomeCode::WrongOldPassword, 422);

        // A protected account.
        let admin = CloudIdentity {
            upn: Some(format!("{}@example.test", seed::PROTECTED_USER)),
            ..Default::default()
        };
        let answer = e
            .send(&RequestBody::reset(
                "ad-wh-prot",
                admin,
                Password::new("Takeover!Marker-77"),
                false,
            ))
            .await;
        expect(&answer, OutcomeCode::AdminActionRequired, 403);
        let audit = e.audit_records(3).await;
        let record = audit
            .iter()
            .find(|r| r["request_id"] == "ad-wh-prot")
            .ok_or_else(|| anyhow::anyhow!("no audit record"))?;
        let detail = record["admin_detail"].as_str().unwrap_or_default();
        assert!(detail.contains("Domain Admins"), "{detail}");
        for m in [
            marker,
            "Not!The-Old-Marker9",
            "WhkNew!Marker-22",
            "Takeover!Marker-77",
        ] {
            assert_no_leak(&e, Some(&receiver), m).await;
        }
        e.stop().await.map_err(anyhow::Error::msg)?;
        Ok(())
    }
}
