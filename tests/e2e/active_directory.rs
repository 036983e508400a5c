//! The `active-directory` target and the `directory` policy against a real Samba AD DC
//! (from `writeback_testkit::samba`).

use writeback_testkit::samba::{self, seed, NewUser, Ou};

#[tokio::test]
async fn test_dc_has_the_fixtures() -> anyhow::Result<()> {
    let dc = samba::shared()?;
    let svc = dc.service_account();
    dc.bind_as(&svc.upn, &svc.password).await?;
    let user = dc
        .add_user(NewUser::new(&dc.unique_name("kit"), "Kit!Initial-Pass1").in_ou(Ou::Other))
        .await?;
    assert_eq!(user.object_guid.len(), 16);
    dc.bind_as(&user.upn, &user.password).await?;
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
