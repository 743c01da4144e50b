#!/usr/bin/env bash
# EXPLAIN (ANALYZE, BUFFERS) of the SQL that ListCases, QueryAuditLog and the escalation timer issue,
# as main issued it ("before", e90da9b) and as this branch issues it ("after"), on a seeded
# PostgreSQL database migrated by this branch. Writes one file per query next to this script.
#
#   createdb -h 127.0.0.1 -U postgres liaison_scale
#   export LIAISON_DATABASE_URL=postgres://postgres@127.0.0.1:5432/liaison_scale
#   LIAISON_PASSWORD='a long passphrase' liaison-bench seed --cases 1000000 --audit-entries 10000000 \
#       --random-seed 2026 > summary.json
#   psql "$LIAISON_DATABASE_URL" -c 'VACUUM ANALYZE'
#   bench/explain/explain.sh "$LIAISON_DATABASE_URL"
#
# The SQL is the service's with its bound parameters written in as literals. Each statement runs
# RUNS times (default 7); the files give the first run and the median and maximum of the others,
# then one plan.
set -euo pipefail

URL=${1:?usage: explain.sh POSTGRES_URL}
OUT=$(cd "$(dirname "$0")" && pwd)
RUNS=${RUNS:-7}

q() { psql "$URL" -X -q -tA -v ON_ERROR_STOP=1 -c "$1"; }

CASES='"cases"."id", "cases"."reference", "cases"."channel_id", "cases"."category", "cases"."priority", "cases"."title", "cases"."summary", "cases"."originating_agency_id", "cases"."receiving_agency_id", "cases"."filed_by", "cases"."assignee_id", "cases"."status", "cases"."resolution", "cases"."filed_at", "cases"."updated_at", "cases"."acknowledged_at", "cases"."closed_at", "cases"."acknowledge_due_at", "cases"."version", "cases"."request_id", "cases"."escalated_at"'
ENTRIES='"audit_entries"."seq", "audit_entries"."at", "audit_entries"."actor_id", "audit_entries"."actor_username", "audit_entries"."actor_agency_id", "audit_entries"."actor_roles", "audit_entries"."method", "audit_entries"."target_type", "audit_entries"."target_id", "audit_entries"."case_id", "audit_entries"."case_originating_agency_id", "audit_entries"."case_receiving_agency_id", "audit_entries"."outcome", "audit_entries"."status_code", "audit_entries"."request_id", "audit_entries"."peer", "audit_entries"."event", "audit_entries"."prev_hash", "audit_entries"."hash"'

# The largest incoming queue (CA-RCMP receives from both Indian agencies), an Indian officer, and
# the Canadian auditor's agency.
X=$(q "SELECT id FROM agencies WHERE code = 'CA-RCMP'")
OFFICER=$(q "SELECT id FROM users WHERE username = 'in-ncb.officer.0'")
OWN_OFFICER=$(q "SELECT id FROM users WHERE username = 'ca-rcmp.officer.0'")
NOW=$(q "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint")
DAY=86400000000
HEAD=$(q "SELECT seq FROM audit_head WHERE id = 1")
# A later keyset page: the cursor of the 200,000th case of the queue, about six months back.
CURSOR=$(q "SELECT filed_at || ' ' || id FROM cases WHERE receiving_agency_id = '$X' ORDER BY filed_at DESC, id DESC OFFSET 199999 LIMIT 1")
KEY=${CURSOR% *}
KEY_ID=${CURSOR#* }
# The case of the last 100,000 entries that the auditor's agency sees most of.
CASE=$(q "SELECT case_id FROM audit_entries WHERE seq > $HEAD - 100000 AND case_receiving_agency_id = '$X' GROUP BY case_id ORDER BY count(*) DESC, case_id LIMIT 1")

SCALE="$(q "SELECT count(*) FROM cases") cases ($(q "SELECT count(*) FROM cases WHERE receiving_agency_id = '$X'") received by CA-RCMP), $(q "SELECT count(*) FROM case_events") case events, $(q "SELECT count(*) FROM case_notes") notes, $HEAD audit entries; PostgreSQL $(q "SELECT split_part(version(), ' ', 2)"), shared_buffers $(q "SHOW shared_buffers"), $(nproc) cores shared with other work"
DATE=$(date -u +%Y-%m-%d)

SCOPE="(\"audit_entries\".\"actor_agency_id\" = '$X' OR \"audit_entries\".\"case_originating_agency_id\" = '$X' OR \"audit_entries\".\"case_receiving_agency_id\" = '$X')"

# Times one statement RUNS times with EXPLAIN (ANALYZE, TIMING OFF) (per-node timing would add
# clock reads per row, doubling the time of a scan that counts thousands of rows): sets TIMES
# ("first | median max") and MEDIAN; then PLAN to an EXPLAIN (ANALYZE, BUFFERS) run. With
# PREFIX/SUFFIX, inside a transaction that is rolled back.
explain() {
    local sql=$1 prefix=${2:-} suffix=${3:-} times=() run
    for _ in $(seq "$RUNS"); do
        run=$(psql "$URL" -X -q -v ON_ERROR_STOP=1 <<<"${prefix}EXPLAIN (ANALYZE, TIMING OFF) $sql;${suffix}")
        times+=("$(grep -o 'Execution Time: [0-9.]*' <<<"$run" | grep -o '[0-9.]*$')")
    done
    PLAN=$(psql "$URL" -X -q -v ON_ERROR_STOP=1 <<<"${prefix}EXPLAIN (ANALYZE, BUFFERS) $sql;${suffix}")
    read -r MEDIAN MAX < <(printf '%s\n' "${times[@]:1}" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)], v[NR]}')
    TIMES="${times[0]} | $MEDIAN $MAX"
}

# write NAME PURPOSE -- before statements... -- after statements...
# Statements of one call run one after the other; the call's time is the sum of their medians.
write() {
    local name=$1 purpose=$2 phase="" file="$OUT/$1.txt" body="" before_sum=0 after_sum=0 summary=""
    shift 2
    local -a before=() after=()
    for arg in "$@"; do
        case $arg in
            --before) phase=before ;;
            --after) phase=after ;;
            *) if [ "$phase" = before ]; then before+=("$arg"); else after+=("$arg"); fi ;;
        esac
    done
    local header="-- $purpose
-- Scale: $SCALE.
-- Date: $DATE.
-- SQL (after), bound parameters written in:"
    for sql in "${after[@]}"; do
        header+="
--   ${sql#@*@}"
    done
    for phase in after before; do
        local -a statements=()
        if [ "$phase" = after ]; then statements=("${after[@]}"); else statements=("${before[@]}"); fi
        body+="
==================== $phase ===================="
        for sql in "${statements[@]}"; do
            local prefix="" suffix=""
            if [[ $sql == @*@* ]]; then
                prefix="${sql#@}"; prefix="${prefix%%@*}"; sql="${sql#@*@}"
                suffix=" ROLLBACK;"
            fi
            explain "$sql" "$prefix" "$suffix"
            body+="

${prefix}$sql;${suffix}
-- execution ms (ANALYZE, TIMING OFF), first | median max of the next $((RUNS - 1)): $TIMES
-- plan (ANALYZE, BUFFERS; its per-node timing adds to the times it shows):
$PLAN"
            if [ "$phase" = after ]; then
                after_sum=$(awk -v a="$after_sum" -v b="$MEDIAN" 'BEGIN {print a + b}')
            else
                before_sum=$(awk -v a="$before_sum" -v b="$MEDIAN" 'BEGIN {print a + b}')
            fi
        done
    done
    summary="-- Median execution per call: before $before_sum ms, after $after_sum ms."
    printf '%s\n%s\n%s\n' "$header" "$summary" "$body" >"$file"
    printf '%-40s before %10s ms   after %8s ms\n' "$name" "$before_sum" "$after_sum"
}

write list_cases_incoming_first_page \
    "ListCases for a supervisor: INCOMING (receiving agency = CA-RCMP), newest first, first page of 50 (LIMIT 51)." \
    --before "SELECT $CASES FROM \"cases\" WHERE (\"cases\".\"originating_agency_id\" = '$X' OR \"cases\".\"receiving_agency_id\" = '$X') AND \"cases\".\"receiving_agency_id\" = '$X' ORDER BY \"cases\".\"filed_at\" DESC, \"cases\".\"id\" DESC LIMIT 51" \
    --after "SELECT $CASES FROM \"cases\" WHERE \"cases\".\"receiving_agency_id\" = '$X' ORDER BY \"cases\".\"filed_at\" DESC, \"cases\".\"id\" DESC LIMIT 51"

write list_cases_incoming_later_page \
    "ListCases for a supervisor: INCOMING, newest first, a later keyset page (after the 200,000th case of the queue, about six months back)." \
    --before "SELECT $CASES FROM \"cases\" WHERE (\"cases\".\"originating_agency_id\" = '$X' OR \"cases\".\"receiving_agency_id\" = '$X') AND \"cases\".\"receiving_agency_id\" = '$X' AND (\"cases\".\"filed_at\" < $KEY OR (\"cases\".\"filed_at\" = $KEY AND \"cases\".\"id\" < '$KEY_ID')) ORDER BY \"cases\".\"filed_at\" DESC, \"cases\".\"id\" DESC LIMIT 51" \
    --after "SELECT $CASES FROM \"cases\" WHERE \"cases\".\"receiving_agency_id\" = '$X' AND (\"filed_at\", \"id\") < ($KEY, '$KEY_ID') ORDER BY \"cases\".\"filed_at\" DESC, \"cases\".\"id\" DESC LIMIT 51"

write list_cases_incoming_overdue \
    "ListCases for a supervisor: INCOMING, overdue only (FILED past acknowledge_due_at), earliest deadline first, first page." \
    --before "SELECT $CASES FROM \"cases\" WHERE (\"cases\".\"originating_agency_id\" = '$X' OR \"cases\".\"receiving_agency_id\" = '$X') AND \"cases\".\"receiving_agency_id\" = '$X' AND \"cases\".\"status\" = 1 AND \"cases\".\"acknowledge_due_at\" < $NOW ORDER BY \"cases\".\"acknowledge_due_at\" ASC, \"cases\".\"id\" ASC LIMIT 51" \
    --after "SELECT $CASES FROM \"cases\" WHERE \"cases\".\"receiving_agency_id\" = '$X' AND \"cases\".\"status\" = 1 AND \"cases\".\"acknowledge_due_at\" < $NOW ORDER BY \"cases\".\"acknowledge_due_at\" ASC, \"cases\".\"id\" ASC LIMIT 51"

write list_cases_officer \
    "ListCases for an officer (in-ncb.officer.0): every case they filed or are assigned, newest first, first page. After: one statement per part, merged by the service." \
    --before "SELECT $CASES FROM \"cases\" WHERE \"cases\".\"filed_by\" = '$OFFICER' OR \"cases\".\"assignee_id\" = '$OFFICER' ORDER BY \"cases\".\"filed_at\" DESC, \"cases\".\"id\" DESC LIMIT 51" \
    --after "SELECT $CASES FROM \"cases\" WHERE \"cases\".\"filed_by\" = '$OFFICER' ORDER BY \"cases\".\"filed_at\" DESC, \"cases\".\"id\" DESC LIMIT 51" \
    "SELECT $CASES FROM \"cases\" WHERE \"cases\".\"assignee_id\" = '$OFFICER' ORDER BY \"cases\".\"filed_at\" DESC, \"cases\".\"id\" DESC LIMIT 51"

write query_audit_by_case \
    "QueryAuditLog for a CA-RCMP auditor: the entries about one case, newest first, first page of 50. Unchanged." \
    --before "SELECT $ENTRIES FROM \"audit_entries\" WHERE $SCOPE AND \"audit_entries\".\"case_id\" = '$CASE' ORDER BY \"audit_entries\".\"seq\" DESC LIMIT 51" \
    --after "SELECT $ENTRIES FROM \"audit_entries\" WHERE $SCOPE AND \"audit_entries\".\"case_id\" = '$CASE' ORDER BY \"audit_entries\".\"seq\" DESC LIMIT 51"

write query_audit_by_actor \
    "QueryAuditLog for a CA-RCMP auditor: the calls of one of their agency's officers (ca-rcmp.officer.0), newest first, first page. Unchanged." \
    --before "SELECT $ENTRIES FROM \"audit_entries\" WHERE $SCOPE AND \"audit_entries\".\"actor_id\" = '$OWN_OFFICER' ORDER BY \"audit_entries\".\"seq\" DESC LIMIT 51" \
    --after "SELECT $ENTRIES FROM \"audit_entries\" WHERE $SCOPE AND \"audit_entries\".\"actor_id\" = '$OWN_OFFICER' ORDER BY \"audit_entries\".\"seq\" DESC LIMIT 51"

write query_audit_by_other_agency_actor \
    "QueryAuditLog for a CA-RCMP auditor: the calls of an Indian officer (in-ncb.officer.0) on cases CA-RCMP is party to, newest first, first page. Unchanged." \
    --before "SELECT $ENTRIES FROM \"audit_entries\" WHERE $SCOPE AND \"audit_entries\".\"actor_id\" = '$OFFICER' ORDER BY \"audit_entries\".\"seq\" DESC LIMIT 51" \
    --after "SELECT $ENTRIES FROM \"audit_entries\" WHERE $SCOPE AND \"audit_entries\".\"actor_id\" = '$OFFICER' ORDER BY \"audit_entries\".\"seq\" DESC LIMIT 51"

# A time range: the span of sequence numbers it covers first, then the entries within it.
range() {
    local since=$1 until=$2 name=$3 purpose=$4 span first last
    span="SELECT COUNT(\"seq\") AS \"entries\", MIN(\"seq\") AS \"first\", MAX(\"seq\") AS \"last\" FROM (SELECT \"seq\" FROM \"audit_entries\" WHERE \"at\" >= $since AND \"at\" < $until LIMIT 50001) AS \"in_range\""
    read -r first last < <(q "SELECT \"first\" || ' ' || \"last\" FROM ($span) s")
    write "$name" "$purpose" \
        --before "SELECT $ENTRIES FROM \"audit_entries\" WHERE $SCOPE AND \"audit_entries\".\"at\" >= $since AND \"audit_entries\".\"at\" < $until ORDER BY \"audit_entries\".\"seq\" DESC LIMIT 51" \
        --after "$span" \
        "SELECT $ENTRIES FROM \"audit_entries\" WHERE \"audit_entries\".\"seq\" >= $first AND \"audit_entries\".\"seq\" <= $last AND $SCOPE AND \"audit_entries\".\"at\" + 0 >= $since AND \"audit_entries\".\"at\" + 0 < $until ORDER BY \"audit_entries\".\"seq\" DESC LIMIT 51"
}

range $((NOW - DAY)) "$NOW" query_audit_recent_day \
    "QueryAuditLog for a CA-RCMP auditor: the last 24 hours as a closed range (since and until), newest first, first page. After: the span of the range read from idx_audit_at, then the walk down the sequence within it."
write query_audit_since_a_day_ago \
    "QueryAuditLog for a CA-RCMP auditor: since 24 hours ago (no until, as 'liaisonctl audit query --since 1d' asks), newest first, first page. Unchanged: an open range is not narrowed." \
    --before "SELECT $ENTRIES FROM \"audit_entries\" WHERE $SCOPE AND \"audit_entries\".\"at\" >= $((NOW - DAY)) ORDER BY \"audit_entries\".\"seq\" DESC LIMIT 51" \
    --after "SELECT $ENTRIES FROM \"audit_entries\" WHERE $SCOPE AND \"audit_entries\".\"at\" >= $((NOW - DAY)) ORDER BY \"audit_entries\".\"seq\" DESC LIMIT 51"
range $((NOW - 183 * DAY)) $((NOW - 182 * DAY)) query_audit_day_six_months_ago \
    "QueryAuditLog for a CA-RCMP auditor: one day about six months ago, newest first, first page. After: as for the recent day."

write escalation_due \
    "The escalation timer (every minute on every server): FILED cases past their deadline not yet escalated, earliest deadline first, 200 at a time. Before: without idx_cases_escalation (dropped inside a transaction that is rolled back)." \
    --before "@BEGIN; DROP INDEX idx_cases_escalation; @SELECT $CASES FROM \"cases\" WHERE \"cases\".\"status\" = 1 AND \"cases\".\"acknowledge_due_at\" < $NOW AND \"cases\".\"escalated_at\" IS NULL ORDER BY \"cases\".\"acknowledge_due_at\" ASC LIMIT 200" \
    --after "SELECT $CASES FROM \"cases\" WHERE \"cases\".\"status\" = 1 AND \"cases\".\"acknowledge_due_at\" < $NOW AND \"cases\".\"escalated_at\" IS NULL ORDER BY \"cases\".\"acknowledge_due_at\" ASC LIMIT 200"
