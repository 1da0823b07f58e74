//! The names of the `agents.*` git config keys.

pub const AGENT: &str = "agents.agent";
pub const COMMAND: &str = "agents.command";
pub const MANIFEST: &str = "agents.manifest";
pub const BASE: &str = "agents.base";
pub const JOBS: &str = "agents.jobs";
pub const TIMEOUT: &str = "agents.timeout";
pub const RETRIES: &str = "agents.retries";
pub const SETUP: &str = "agents.setup";
pub const CHECK: &str = "agents.check";
pub const COPY: &str = "agents.copy";
pub const MERGE_STRATEGY: &str = "agents.mergeStrategy";
pub const WORKTREE_DIR: &str = "agents.worktreeDir";
pub const BRANCH_PREFIX: &str = "agents.branchPrefix";
pub const REMOTE: &str = "agents.remote";
pub const PORT_RANGE: &str = "agents.portRange";
pub const MIN_FREE_DISK: &str = "agents.minFreeDisk";
pub const NOTIFY: &str = "agents.notify";
pub const OUTPUT: &str = "agents.output";
pub const MAX_COST: &str = "agents.maxCost";
pub const MAX_TOKENS: &str = "agents.maxTokens";
pub const RETRY_IN: &str = "agents.retryIn";
pub const SANDBOX: &str = "agents.sandbox";
pub const SANDBOX_WRITE: &str = "agents.sandboxWrite";
pub const SANDBOX_NETWORK: &str = "agents.sandboxNetwork";
pub const RUNNER: &str = "agents.runner";
pub const RUNNER_IMAGE: &str = "agents.runnerImage";
pub const RUNNER_STOP: &str = "agents.runnerStop";
pub const REMOTE_DISPATCH: &str = "agents.remoteDispatch";
pub const REMOTE_TIMEOUT: &str = "agents.remoteTimeout";
pub const REMOTE_IMAGE: &str = "agents.remoteImage";
pub const REMOTE_SECRET: &str = "agents.remoteSecret";
pub const REMOTE_NAMESPACE: &str = "agents.remoteNamespace";
pub const REMOTE_WORKFLOW: &str = "agents.remoteWorkflow";
pub const REMOTE_HOSTS: &str = "agents.remoteHosts";
pub const REMOTE_HOST_JOBS: &str = "agents.remoteHostJobs";

pub const ALL: &[&str] = &[
    AGENT,
    COMMAND,
    MANIFEST,
    BASE,
    JOBS,
    TIMEOUT,
    RETRIES,
    SETUP,
    CHECK,
    COPY,
    MERGE_STRATEGY,
    WORKTREE_DIR,
    BRANCH_PREFIX,
    REMOTE,
    PORT_RANGE,
    MIN_FREE_DISK,
    NOTIFY,
    OUTPUT,
    MAX_COST,
    MAX_TOKENS,
    RETRY_IN,
    SANDBOX,
    SANDBOX_WRITE,
    SANDBOX_NETWORK,
    RUNNER,
    RUNNER_IMAGE,
    RUNNER_STOP,
    REMOTE_DISPATCH,
    REMOTE_TIMEOUT,
    REMOTE_IMAGE,
    REMOTE_SECRET,
    REMOTE_NAMESPACE,
    REMOTE_WORKFLOW,
    REMOTE_HOSTS,
    REMOTE_HOST_JOBS,
];
/// Keys that may be given several times; the values add up.
pub const MULTI: &[&str] = &[SETUP, COPY, SANDBOX_WRITE];
