//! The copies of a projection's tables that a rebuild fills (swapped in when caught up)
//! and a verification replays into (compared and dropped).
//!
//! A copy is filled with every event of the log, so what each row costs decides how
//! long an operator waits. A copy is therefore created with only the indexes its writes
//! need (the primary key and unique ones, which upserts and updates find rows by); a
//! rebuild builds the others in one pass once caught up, which costs a fraction of
//! maintaining them row by row (a trigram index most of all). A verification's copy is
//! unlogged as well: it is dropped when compared, so nothing of it needs to survive a
//! crash or reach a replica.

use sqlx::{Acquire, PgConnection};

use crate::checkpoint;
use crate::parking;
use crate::projection::{Projection, Target};
use crate::rebuild::RebuildError;

/// One index of a live table, as the catalog describes it.
#[derive(Debug)]
struct TableIndex {
    name: String,
    /// `pg_get_indexdef`: `CREATE [UNIQUE] INDEX name ON [ONLY] table USING ...`.
    definition: String,
    unique: bool,
    /// The primary key or unique constraint it backs: its name and definition.
    constraint: Option<(String, String)>,
}

impl TableIndex {
    /// Its name on `target`'s copy: renamed back to `name` when a rebuild swaps in.
    fn copy_name(&self, target: Target) -> String {
        target.table(&self.name)
    }

    /// The statement creating it on `copy`, whatever the live table's name.
    fn create_on(&self, copy: &str, target: Target) -> Result<String, RebuildError> {
        let copy_name = self.copy_name(target);
        if let Some((constraint, definition)) = &self.constraint {
            return Ok(format!(
                "ALTER TABLE {copy} ADD CONSTRAINT {} {definition}",
                target.table(constraint)
            ));
        }
        // Everything from the access method on is the index itself; before it are its
        // name and table, which are the copy's.
        let method = self.definition.find(" USING ").ok_or_else(|| {
            RebuildError::Stopped(format!("unexpected index definition: {}", self.definition))
        })?;
        let unique = if self.unique { "UNIQUE " } else { "" };
        Ok(format!(
            "CREATE {unique}INDEX IF NOT EXISTS {copy_name} ON {copy}{}",
            &self.definition[method..]
        ))
    }

    /// Whether the copy's writes need it while it is filled.
    fn needed_while_filling(&self) -> bool {
        self.unique || self.constraint.is_some()
    }
}

/// A row of [`indexes_of`]'s query.
#[derive(sqlx::FromRow)]
struct IndexRow {
    name: String,
    definition: String,
    unique: bool,
    constraint_name: Option<String>,
    constraint_definition: Option<String>,
}

/// The indexes of `table` (a live table: ordo's own constant, never input).
async fn indexes_of(conn: &mut PgConnection, table: &str) -> Result<Vec<TableIndex>, sqlx::Error> {
    let rows: Vec<IndexRow> = sqlx::query_as(
        "SELECT i.relname::text AS name, pg_get_indexdef(x.indexrelid) AS definition,
                x.indisunique AS unique, c.conname::text AS constraint_name,
                pg_get_constraintdef(c.oid) AS constraint_definition
           FROM pg_index x
           JOIN pg_class i ON i.oid = x.indexrelid
           LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid
                                    AND c.contype IN ('p', 'u', 'x')
          WHERE x.indrelid = $1::regclass
          ORDER BY i.relname",
    )
    .bind(table)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| TableIndex {
            name: row.name,
            definition: row.definition,
            unique: row.unique,
            constraint: row.constraint_name.zip(row.constraint_definition),
        })
        .collect())
}

/// Creates empty copies of the projection's tables for `target`, with a checkpoint at
/// the start of the feed and the indexes its writes need; with `resume`, keeps copies an
/// interrupted run left.
pub async fn prepare_copy(
    conn: &mut PgConnection,
    projection: &dyn Projection,
    target: Target,
    resume: bool,
) -> Result<(), RebuildError> {
    let checkpoint_name = target.checkpoint(projection.name());
    let mut tx = conn.begin().await?;
    if resume
        && checkpoint::read(&mut *tx, &checkpoint_name)
            .await?
            .is_some_and(|c| !c.failed())
    {
        return Ok(());
    }
    // Only a verification's copy may be lost in a crash: a rebuild resumes from its
    // copy's checkpoint, which must describe what the copy holds.
    let unlogged = if target == Target::Replay {
        "UNLOGGED "
    } else {
        ""
    };
    for table in projection.tables() {
        let copy = target.table(table);
        sqlx::query(&format!("DROP TABLE IF EXISTS {copy}"))
            .execute(&mut *tx)
            .await?;
        sqlx::query(&format!(
            "CREATE {unlogged}TABLE {copy} (LIKE {table} INCLUDING ALL EXCLUDING INDEXES)"
        ))
        .execute(&mut *tx)
        .await?;
        for index in indexes_of(&mut tx, table).await? {
            if index.needed_while_filling() {
                sqlx::query(&index.create_on(&copy, target)?)
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    sqlx::query("DELETE FROM projection_checkpoints WHERE projection = $1")
        .bind(&checkpoint_name)
        .execute(&mut *tx)
        .await?;
    parking::discard(&mut tx, &checkpoint_name).await?;
    checkpoint::ensure(&mut *tx, &checkpoint_name).await?;
    tx.commit().await?;
    Ok(())
}

/// Builds the indexes a rebuild's copy was created without, each in one pass (the
/// copy's rows are written by the rebuild only, so nothing waits on the build).
pub async fn complete_indexes(
    conn: &mut PgConnection,
    projection: &dyn Projection,
) -> Result<(), RebuildError> {
    for table in projection.tables() {
        let copy = Target::Shadow.table(table);
        for index in indexes_of(conn, table).await? {
            if !index.needed_while_filling() {
                sqlx::query(&index.create_on(&copy, Target::Shadow)?)
                    .execute(&mut *conn)
                    .await?;
            }
        }
    }
    Ok(())
}

/// Gives the indexes and constraints of a swapped-in copy their live names back (its
/// old table, which had them, is gone): migrations name them.
pub async fn restore_index_names(conn: &mut PgConnection, table: &str) -> Result<(), sqlx::Error> {
    let suffix = Target::Shadow.table("");
    for index in indexes_of(conn, table).await? {
        if let Some(live) = index.name.strip_suffix(&suffix) {
            // Renaming the index of a constraint renames the constraint too.
            sqlx::query(&format!("ALTER INDEX {} RENAME TO {live}", index.name))
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}
