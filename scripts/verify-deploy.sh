#!/usr/bin/env bash
# Runs on the operator's laptop during `pulumi up` (a @pulumi/command local.Command, components/deploy-verification.ts):
# asks the monitoring host to apply the new config bundle now and to check every service, and fails the deploy
# with the host's own report (failed service, its status and journal tail) when anything is unhealthy.
#
# Environment: MODE (ssm | ssh), REGION, INSTANCE_ID, EXPECT_ETAG, TIMEOUT (seconds), HEALTH_SCRIPT;
# for ssh: SSH_USER, SSH_HOST, SSH_PRIVATE_KEY (the stack's automation key; written to a private temp file).
set -euo pipefail

: "${MODE:?}" "${INSTANCE_ID:?}" "${EXPECT_ETAG:?}" "${TIMEOUT:?}" "${HEALTH_SCRIPT:?}"
remote="sudo $HEALTH_SCRIPT --expect-etag '${EXPECT_ETAG//\"/}' --timeout $TIMEOUT"

fail() { printf 'verify-deploy: %s\n' "$*" >&2; exit 1; }

case "$MODE" in
  ssm)
    : "${REGION:?}"
    command -v aws >/dev/null 2>&1 || fail "the AWS CLI is not installed on this machine; install it or set verifyDeploy to false"
    # SSM agent registration can lag the instance start: retry sending for a few minutes.
    command_id=""
    for _ in $(seq 1 30); do
      if command_id=$(aws ssm send-command --region "$REGION" --instance-ids "$INSTANCE_ID" \
        --document-name AWS-RunShellScript --comment "monitoring-hosts deploy verification" \
        --timeout-seconds $((TIMEOUT + 120)) \
        --parameters "{\"commands\":[\"$remote\"],\"executionTimeout\":[\"$((TIMEOUT + 60))\"]}" \
        --query Command.CommandId --output text 2>/dev/null) && [ -n "$command_id" ]; then
        break
      fi
      command_id=""
      sleep 10
    done
    [ -n "$command_id" ] || fail "could not send the health check to $INSTANCE_ID through SSM (is the SSM agent online? aws ssm describe-instance-information)"
    status="Pending"
    deadline=$(($(date +%s) + TIMEOUT + 180))
    while :; do
      status=$(aws ssm get-command-invocation --region "$REGION" --command-id "$command_id" --instance-id "$INSTANCE_ID" \
        --query Status --output text 2>/dev/null || echo Pending)
      case "$status" in Success | Failed | Cancelled | TimedOut | Undeliverable | Terminated) break ;; esac
      [ "$(date +%s)" -lt "$deadline" ] || break
      sleep 5
    done
    aws ssm get-command-invocation --region "$REGION" --command-id "$command_id" --instance-id "$INSTANCE_ID" \
      --query StandardOutputContent --output text 2>/dev/null || true
    [ "$status" = Success ] || fail "health check on $INSTANCE_ID ended with status $status (command $command_id); see the report above"
    ;;
  ssh)
    : "${SSH_USER:?}" "${SSH_HOST:?}" "${SSH_PRIVATE_KEY:?}"
    key=$(mktemp)
    trap 'rm -f "$key"' EXIT
    chmod 600 "$key"
    printf '%s\n' "$SSH_PRIVATE_KEY" >"$key"
    ssh -i "$key" -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new -o ConnectTimeout=15 \
      -o ConnectionAttempts=20 "$SSH_USER@$SSH_HOST" "$remote" || fail "health check on $SSH_HOST failed; see the report above"
    ;;
  *) fail "MODE must be ssm or ssh, got '$MODE'" ;;
esac
echo "verify-deploy: monitoring host $INSTANCE_ID is healthy with bundle ${EXPECT_ETAG//\"/}"
