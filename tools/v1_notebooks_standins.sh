#!/usr/bin/env bash
# Run official v1 notebooks (../shared/tools/run_v1_notebook.py) with every local stand-in the project has:
# a live local Airflow for the REST / published-pipeline cells (tools/live_airflow.py), the fake Databricks
# server (tools/databricks_fake.py), and real-looking values for the settings the samples read from the
# environment (ADLS Gen1/Gen2, SQL). Usage: tools/v1_notebooks_standins.sh MIRROR_GIT_DIR NOTEBOOK...
# Env: V1NB_JSON as for the runner; WORK (default: a new temporary folder) holds AZML_HOME and the logs.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
py="$here/.venv/bin/python"
mirror="$1"; shift
work="${WORK:-$(mktemp -d /tmp/v1nb-standins-XXXX)}"
mkdir -p "$work"
export AZML_HOME="$work/azml_home"
# the live Airflow's metadata DB: a fresh PostgreSQL database (the machine's server), else SQLite
db="azml_v1nb_$$"
db_args=()
if psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $db" postgres >/dev/null 2>&1; then
  db_args=(--db-url "postgresql+psycopg2://postgres@127.0.0.1:5432/$db")
fi
"$py" "$here/tools/live_airflow.py" --azml-home "$AZML_HOME" --env-file "$work/airflow.env" "${db_args[@]}" \
  >"$work/live_airflow.log" 2>&1 &
live=$!
cleanup() {
  kill "$live" 2>/dev/null; wait "$live" 2>/dev/null || true
  [ ${#db_args[@]} -eq 0 ] || psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" postgres >/dev/null 2>&1
}
trap cleanup EXIT
for _ in $(seq 1 120); do [ -s "$work/airflow.env" ] && break; sleep 2; done
[ -s "$work/airflow.env" ] || { echo "live Airflow did not start: $work/live_airflow.log" >&2; exit 1; }
# shellcheck disable=SC1091
source "$work/airflow.env"
# the live Airflow's workers were started before the runner's web proxy: the notebooks' pipelines carry
# the notebook process's proxy and CA bundle to them (airflow_azml/core/network.py)
export AZML_AIRFLOW_FORWARD_NETWORK=1
# ADLS Gen1 (retired: registration works, moving data says so), ADLS Gen2 and SQL service principals
export ADL_SUBSCRIPTION_62=00000000-0000-0000-0000-000000000001 ADL_RESOURCE_GROUP_62=rg-local
export ADL_STORENAME_62=adlslocal ADL_TENANT_62=00000000-0000-0000-0000-000000000002
export ADL_CLIENTID_62=00000000-0000-0000-0000-000000000003 ADL_CLIENT_62_SECRET=local-secret
export ADLSGEN2_ACCOUNTNAME_62=devstoreaccount1 ADLSGEN2_TENANT_62=00000000-0000-0000-0000-000000000002
export ADLSGEN2_CLIENTID_62=00000000-0000-0000-0000-000000000003 ADLSGEN2_CLIENT_SECRET_62=local-secret
export SQL_SERVERNAME_62=127.0.0.1 SQL_DATBASENAME_62=azml SQL_CLIENTNAME_62=00000000-0000-0000-0000-000000000003
export SQL_CLIENTSECRET_62=local-secret SQL_TENANTID_62=00000000-0000-0000-0000-000000000002
export PSQL_SERVERNAME_62=127.0.0.1 PSQL_DATBASENAME_62=postgres PSQL_USERID_62=postgres PSQL_USERPW_62=postgres
export MYSQL_SERVERNAME_62=127.0.0.1 MYSQL_DATBASENAME_62=test MYSQL_USERID_62=root MYSQL_USERPW_62=root
# ADLS Gen1 holds no data since its retirement: the workspace file declares where the Gen1 sample's data
# "lives now" (the MyAdlsDatastore name, a local folder standing in for Gen2/Blob), seeded with the file the
# sample tells the reader to upload by hand; the default datastore stays where the live Airflow reads it
mkdir -p "$work/adls_moved/adla_sample"
printf '1, Ann, 10\n2, Ben, 20\n3, Cyd, 10\n4, Dee, 30\n' >"$work/adls_moved/adla_sample/sample_input.csv"
cat >"$work/workspace.json" <<EOF
{"datastores": {"workspaceblobstore": {"type": "local", "path": "$AZML_HOME/datastores/workspaceblobstore"},
                "MyAdlsDatastore": {"type": "local", "path": "$work/adls_moved"}}}
EOF
export AZML_WORKSPACE_CONFIG="$work/workspace.json"
cd "$work"
"$py" "$here/tools/databricks_fake.py" --log "$work/databricks_requests.jsonl" -- \
  "$py" "$here/../shared/tools/run_v1_notebook.py" "$mirror" "$@"
