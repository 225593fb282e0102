//! Safety under failure: rollback of a failed apply, crash consistency, throttling, locking,
//! secrets.

use crate::support::{Emulator, Project};

#[test]
fn a_failed_apply_with_rollback_undoes_what_it_created_and_spares_what_it_does_not_own() {
    let emulator = Emulator::start();
    let project = Project::new("rollback", &[]);
    // Someone else's DB subnet group holds the name envctl needs.
    emulator.client(&["create-foreign-db-subnet-group", "webapp-staging-main"]);
    let run = project
        .envctl(&emulator, &["apply", "staging", "--yes", "--rollback"])
        .expect_code(1);
    assert!(
        run.stderr.contains("error: create db_subnet_group.main failed: DB subnet group `webapp-staging-main` (it was not created by envctl for db_subnet_group.main) already exists"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("skipped: create db_cluster.main"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("Rollback complete"), "{}", run.stderr);
    let inventory = emulator.inventory();
    assert_eq!(inventory.owned_addresses("staging"), Vec::<String>::new());
    assert!(
        inventory.0["db_subnet_groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["id"] == "webapp-staging-main"),
        "the foreign group is untouched"
    );
}

#[test]
fn without_rollback_a_failed_apply_keeps_its_progress_for_the_next_run() {
    let emulator = Emulator::start();
    let project = Project::new("no-rollback", &[]);
    emulator.client(&["create-foreign-db-subnet-group", "webapp-staging-main"]);
    let run = project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(1);
    assert!(run.stderr.contains("Apply incomplete"), "{}", run.stderr);
    assert!(!run.stderr.contains("Rollback"), "{}", run.stderr);
    let owned = emulator.inventory().owned_addresses("staging");
    assert!(owned.contains(&"vpc.main".to_string()), "{owned:?}");
    assert!(owned.contains(&"instance.app[0]".to_string()), "{owned:?}");
}
