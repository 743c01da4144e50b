//! Four eyes on relaxing a note's marking too: a proposed move may name the note it relaxes, and
//! one relaxation of each note waits at a time (the index of waiting moves takes the note).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CaseMoves {
    Table,
    NoteId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(CaseMoves::Table)
                    .add_column(ColumnDef::new(CaseMoves::NoteId).string_len(36).null())
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX idx_case_moves_one_pending")
            .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX idx_case_moves_one_pending ON case_moves \
             (case_id, action, COALESCE(note_id, '')) WHERE status = 1",
        )
        .await
        .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX idx_case_moves_one_pending")
            .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX idx_case_moves_one_pending ON case_moves (case_id, action) \
             WHERE status = 1",
        )
        .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(CaseMoves::Table)
                    .drop_column(CaseMoves::NoteId)
                    .to_owned(),
            )
            .await
    }
}
