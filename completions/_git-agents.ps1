
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'git-agents' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'git-agents'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'git-agents' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in PATH (like git -C); may be repeated')
            [CompletionResult]::new('--manifest', '--manifest', [CompletionResultType]::ParameterName, 'Manifest file to use instead of agents.yaml')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output (NO_COLOR is honoured by auto)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('spawn', 'spawn', [CompletionResultType]::ParameterValue, 'Create a worktree and branch per task and run its agent there, in parallel')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List every agent task and worktree, in the state the repository shows')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List every agent task and worktree, in the state the repository shows')
            [CompletionResult]::new('merge', 'merge', [CompletionResultType]::ParameterValue, 'Merge finished tasks into their base branch, one at a time (a local merge queue)')
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Remove the worktrees and branches of finished tasks')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Print a task''s log (setup, agent and check output of every attempt)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show everything known about one task')
            [CompletionResult]::new('stop', 'stop', [CompletionResultType]::ParameterValue, 'Stop running tasks: their agents and every process they started')
            [CompletionResult]::new('wait', 'wait', [CompletionResultType]::ParameterValue, 'Wait for running tasks to end')
            [CompletionResult]::new('path', 'path', [CompletionResultType]::ParameterValue, 'Print the worktree path of a task')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Write a starter agents.yaml and choose the agent (agents.agent)')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Watch a whole batch in a scratch repository: spawn, list, merge (with a conflict), prune')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('trust', 'trust', [CompletionResultType]::ParameterValue, 'Show the manifest''s commands (agent command, setup, check, env, notify) and trust them')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the git-agents(1) man page, or install every page')
            [CompletionResult]::new('watch', 'watch', [CompletionResultType]::ParameterValue, 'Follow running tasks live, from any terminal, until they end')
            [CompletionResult]::new('pick', 'pick', [CompletionResultType]::ParameterValue, 'Make a candidate the winner of a best-of-N task, over the automatic choice')
            [CompletionResult]::new('run-task', 'run-task', [CompletionResultType]::ParameterValue, 'Run one task dispatched with `runner: remote`, in this clone, and push its result')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'git-agents;spawn' {
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Run an ad-hoc task with this prompt (at most one ID)')
            [CompletionResult]::new('--prompt', '--prompt', [CompletionResultType]::ParameterName, 'Run an ad-hoc task with this prompt (at most one ID)')
            [CompletionResult]::new('--agent', '--agent', [CompletionResultType]::ParameterName, 'Agent preset to run')
            [CompletionResult]::new('--command', '--command', [CompletionResultType]::ParameterName, 'Agent command template, split like a shell (e.g. "my-agent --task {prompt}")')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Agents running at once')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Agents running at once')
            [CompletionResult]::new('--base', '--base', [CompletionResultType]::ParameterName, 'Branch or revision to start from (default: the branch checked out)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Time limit per attempt, e.g. 45s, 30m, 2h')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Extra attempts after a failed one (at most 100)')
            [CompletionResult]::new('--check', '--check', [CompletionResultType]::ParameterName, 'Shell command run in the worktree after the agent; exit 0 = pass')
            [CompletionResult]::new('--max-cost', '--max-cost', [CompletionResultType]::ParameterName, 'Budget of the whole batch in US dollars, as the agents report their spend: passing it stops the running agents, and tasks not yet started stay pending')
            [CompletionResult]::new('--max-task-cost', '--max-task-cost', [CompletionResultType]::ParameterName, 'Budget of each task in US dollars (agents.maxCost, `max_cost`)')
            [CompletionResult]::new('--max-tokens', '--max-tokens', [CompletionResultType]::ParameterName, 'Budget of each task in tokens, input plus output, e.g. 200k (agents.maxTokens)')
            [CompletionResult]::new('--retry-in', '--retry-in', [CompletionResultType]::ParameterName, 'Where a retry runs: a fresh worktree (default), or the same one, the agent''s session resumed (agents.retryIn, `retry_in`)')
            [CompletionResult]::new('--sandbox', '--sandbox', [CompletionResultType]::ParameterName, 'Run each agent, setup and check in a sandbox: bwrap or none (see README)')
            [CompletionResult]::new('--best-of', '--best-of', [CompletionResultType]::ParameterName, 'Run each task as N candidates at once and keep the best (1-16)')
            [CompletionResult]::new('--agents', '--agents', [CompletionResultType]::ParameterName, 'Run each task once per agent listed, as candidates (e.g. claude,codex)')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in PATH (like git -C); may be repeated')
            [CompletionResult]::new('--manifest', '--manifest', [CompletionResultType]::ParameterName, 'Manifest file to use instead of agents.yaml')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output (NO_COLOR is honoured by auto)')
            [CompletionResult]::new('--no-check', '--no-check', [CompletionResultType]::ParameterName, 'Run no check, whatever the config says')
            [CompletionResult]::new('--keep-empty', '--keep-empty', [CompletionResultType]::ParameterName, 'Keep the worktree and branch of a task whose agent changed nothing')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the summary as JSON on stdout')
            [CompletionResult]::new('--trust', '--trust', [CompletionResultType]::ParameterName, 'Run a tracked manifest''s commands without recording trust (see `git agents trust`)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Spawn even when free disk space would fall below agents.minFreeDisk')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Run the batch in the background with no terminal: print the task ids and return')
            [CompletionResult]::new('--detach', '--detach', [CompletionResultType]::ParameterName, 'Run the batch in the background with no terminal: print the task ids and return')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'git-agents;list' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in PATH (like git -C); may be repeated')
            [CompletionResult]::new('--manifest', '--manifest', [CompletionResultType]::ParameterName, 'Manifest file to use instead of agents.yaml')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output (NO_COLOR is honoured by auto)')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Also show pruned tasks (tombstones)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the tasks as JSON (version 1) on stdout')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Also show the tokens each task''s agents reported (TOKENS)')
            [CompletionResult]::new('--wide', '--wide', [CompletionResultType]::ParameterName, 'Also show the tokens each task''s agents reported (TOKENS)')
            [CompletionResult]::new('--candidates', '--candidates', [CompletionResultType]::ParameterName, 'One row per best-of-N candidate (also with --all), not one per task')
            [CompletionResult]::new('--conflicts', '--conflicts', [CompletionResultType]::ParameterName, 'Also forecast, for each task waiting to merge, the other tasks it would conflict with (CONFLICTS; JSON conflicts_with), computed in memory')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'git-agents;ls' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in PATH (like git -C); may be repeated')
            [CompletionResult]::new('--manifest', '--manifest', [CompletionResultType]::ParameterName, 'Manifest file to use instead of agents.yaml')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output (NO_COLOR is honoured by auto)')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Also show pruned tasks (tombstones)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the tasks as JSON (version 1) on stdout')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Also show the tokens each task''s agents reported (TOKENS)')
            [CompletionResult]::new('--wide', '--wide', [CompletionResultType]::ParameterName, 'Also show the tokens each task''s agents reported (TOKENS)')
            [CompletionResult]::new('--candidates', '--candidates', [CompletionResultType]::ParameterName, 'One row per best-of-N candidate (also with --all), not one per task')
            [CompletionResult]::new('--conflicts', '--conflicts', [CompletionResultType]::ParameterName, 'Also forecast, for each task waiting to merge, the other tasks it would conflict with (CONFLICTS; JSON conflicts_with), computed in memory')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'git-agents;merge' {
            [CompletionResult]::new('--strategy', '--strategy', [CompletionResultType]::ParameterName, 'How a task''s branch is brought in [default: merge, or agents.mergeStrategy]')
            [CompletionResult]::new('--into', '--into', [CompletionResultType]::ParameterName, 'Merge into this branch instead of each task''s base')
            [CompletionResult]::new('--check', '--check', [CompletionResultType]::ParameterName, 'Shell command run on each merged result; exit 0 = it may land')
            [CompletionResult]::new('--on-conflict', '--on-conflict', [CompletionResultType]::ParameterName, 'What a conflict does: stop the queue, skip the task, let its agent resolve it, or re-run the task from the new base [default: stop]')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Run up to N checks at once, each on the predicted result of the tasks ahead of it; the outcome is the one --jobs 1 gives [default: agents.jobs when set, else 1]')
            [CompletionResult]::new('--batch', '--batch', [CompletionResultType]::ParameterName, 'Check N tasks at once as one result; a failing result is bisected to find the failing tasks, the others land')
            [CompletionResult]::new('--order', '--order', [CompletionResultType]::ParameterName, 'The queue''s order: as selected, or the forecast''s order that lands the most tasks [default: queue]')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in PATH (like git -C); may be repeated')
            [CompletionResult]::new('--manifest', '--manifest', [CompletionResultType]::ParameterName, 'Manifest file to use instead of agents.yaml')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output (NO_COLOR is honoured by auto)')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Every task not yet merged that succeeded or conflicted before')
            [CompletionResult]::new('--no-check', '--no-check', [CompletionResultType]::ParameterName, 'Run no check, whatever the config says')
            [CompletionResult]::new('--pr', '--pr', [CompletionResultType]::ParameterName, 'Push each branch and open a pull request with gh instead of merging locally')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Report what would merge and what would conflict; change nothing')
            [CompletionResult]::new('--prune', '--prune', [CompletionResultType]::ParameterName, 'Remove each merged task''s worktree and branch')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the result as JSON on stdout')
            [CompletionResult]::new('--trust', '--trust', [CompletionResultType]::ParameterName, 'Run a tracked manifest''s checks without recording trust (see `git agents trust`)')
            [CompletionResult]::new('--plan', '--plan', [CompletionResultType]::ParameterName, 'Forecast, in memory: whether each task merges cleanly onto its base, which other tasks it conflicts with, and the order that lands the most; change nothing')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'git-agents;prune' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in PATH (like git -C); may be repeated')
            [CompletionResult]::new('--manifest', '--manifest', [CompletionResultType]::ParameterName, 'Manifest file to use instead of agents.yaml')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output (NO_COLOR is honoured by auto)')
            [CompletionResult]::new('--failed', '--failed', [CompletionResultType]::ParameterName, 'Also prune failed, timed-out and interrupted tasks')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Prune every task (running agents are still never touched)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Discard uncommitted files and commits not in base (logged to pruned.log)')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Print what would happen and change nothing')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print what would happen and change nothing')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask before a forced removal (required with --force off a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask before a forced removal (required with --force off a terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'git-agents;logs' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in PATH (like git -C); may be repeated')
            [CompletionResult]::new('--manifest', '--manifest', [CompletionResultType]::ParameterName, 'Manifest file to use instead of agents.yaml')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output (NO_COLOR is honoured by auto)')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Keep printing new output while the task runs')
            [CompletionResult]::new('--follow', '--follow', [CompletionResultType]::ParameterName, 'Keep printing new output while the task runs')
            [CompletionResult]::new('--raw', '--raw', [CompletionResultType]::ParameterName, 'Print the agent''s output as it wrote it (its JSON stream), not rendered')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'git-agents;show' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in PATH (like git -C); may be repeated')
            [CompletionResult]::new('--manifest', '--manifest', [CompletionResultType]::ParameterName, 'Manifest file to use instead of agents.yaml')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output (NO_COLOR is honoured by auto)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print it as JSON (version 1) on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'git-agents;stop' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in PATH (like git -C); may be repeated')
            [CompletionResult]::new('--manifest', '--manifest', [CompletionResultType]::ParameterName, 'Manifest file to use instead of agents.yaml')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output (NO_COLOR is honoured by auto)')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Stop every running task, and whatever is still running of interrupted ones')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'git-agents;wait' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Give up after this long, e.g. 90s, 30m, 2h (exit 1); must be more than zero')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in PATH (like git -C); may be repeated')
            [CompletionResult]::new('--manifest', '--manifest', [CompletionResultType]::ParameterName, 'Manifest file to use instead of agents.yaml')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output (NO_COLOR is honoured by auto)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'git-agents;path' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in PATH (like git -C); may be repeated')
            [CompletionResult]::new('--manifest', '--manifest', [CompletionResultType]::ParameterName, 'Manifest file to use instead of agents.yaml')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output (NO_COLOR is honoured by auto)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'git-agents;init' {
            [CompletionResult]::new('--agent', '--agent', [CompletionResultType]::ParameterName, 'Agent preset to use (stored as agents.agent in .git/config)')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in PATH (like git -C); may be repeated')
            [CompletionResult]::new('--manifest', '--manifest', [CompletionResultType]::ParameterName, 'Manifest file to use instead of agents.yaml')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output (NO_COLOR is honoured by auto)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask: keep the configured agent, else take the first found on PATH')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask: keep the configured agent, else take the first found on PATH')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Overwrite an existing manifest')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'git-agents;demo' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Make the scratch repository here (must not exist yet, or be empty)')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in PATH (like git -C); may be repeated')
            [CompletionResult]::new('--manifest', '--manifest', [CompletionResultType]::ParameterName, 'Manifest file to use instead of agents.yaml')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output (NO_COLOR is honoured by auto)')
            [CompletionResult]::new('--keep', '--keep', [CompletionResultType]::ParameterName, 'Keep the scratch repository afterwards')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'git-agents;completions' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in PATH (like git -C); may be repeated')
            [CompletionResult]::new('--manifest', '--manifest', [CompletionResultType]::ParameterName, 'Manifest file to use instead of agents.yaml')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output (NO_COLOR is honoured by auto)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'git-agents;trust' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in PATH (like git -C); may be repeated')
            [CompletionResult]::new('--manifest', '--manifest', [CompletionResultType]::ParameterName, 'Manifest file to use instead of agents.yaml')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output (NO_COLOR is honoured by auto)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'git-agents;man' {
            [CompletionResult]::new('--install', '--install', [CompletionResultType]::ParameterName, 'Write all pages to DIR [default: ~/.local/share/man/man1]')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in PATH (like git -C); may be repeated')
            [CompletionResult]::new('--manifest', '--manifest', [CompletionResultType]::ParameterName, 'Manifest file to use instead of agents.yaml')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output (NO_COLOR is honoured by auto)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'git-agents;watch' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in PATH (like git -C); may be repeated')
            [CompletionResult]::new('--manifest', '--manifest', [CompletionResultType]::ParameterName, 'Manifest file to use instead of agents.yaml')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output (NO_COLOR is honoured by auto)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the events as NDJSON on stdout instead of the live view')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'git-agents;pick' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in PATH (like git -C); may be repeated')
            [CompletionResult]::new('--manifest', '--manifest', [CompletionResultType]::ParameterName, 'Manifest file to use instead of agents.yaml')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output (NO_COLOR is honoured by auto)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'git-agents;run-task' {
            [CompletionResult]::new('--remote', '--remote', [CompletionResultType]::ParameterName, 'The git remote the task came through')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in PATH (like git -C); may be repeated')
            [CompletionResult]::new('--manifest', '--manifest', [CompletionResultType]::ParameterName, 'Manifest file to use instead of agents.yaml')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output (NO_COLOR is honoured by auto)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more detail about what happens')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'git-agents;help' {
            [CompletionResult]::new('spawn', 'spawn', [CompletionResultType]::ParameterValue, 'Create a worktree and branch per task and run its agent there, in parallel')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List every agent task and worktree, in the state the repository shows')
            [CompletionResult]::new('merge', 'merge', [CompletionResultType]::ParameterValue, 'Merge finished tasks into their base branch, one at a time (a local merge queue)')
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Remove the worktrees and branches of finished tasks')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Print a task''s log (setup, agent and check output of every attempt)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show everything known about one task')
            [CompletionResult]::new('stop', 'stop', [CompletionResultType]::ParameterValue, 'Stop running tasks: their agents and every process they started')
            [CompletionResult]::new('wait', 'wait', [CompletionResultType]::ParameterValue, 'Wait for running tasks to end')
            [CompletionResult]::new('path', 'path', [CompletionResultType]::ParameterValue, 'Print the worktree path of a task')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Write a starter agents.yaml and choose the agent (agents.agent)')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Watch a whole batch in a scratch repository: spawn, list, merge (with a conflict), prune')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('trust', 'trust', [CompletionResultType]::ParameterValue, 'Show the manifest''s commands (agent command, setup, check, env, notify) and trust them')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the git-agents(1) man page, or install every page')
            [CompletionResult]::new('watch', 'watch', [CompletionResultType]::ParameterValue, 'Follow running tasks live, from any terminal, until they end')
            [CompletionResult]::new('pick', 'pick', [CompletionResultType]::ParameterValue, 'Make a candidate the winner of a best-of-N task, over the automatic choice')
            [CompletionResult]::new('run-task', 'run-task', [CompletionResultType]::ParameterValue, 'Run one task dispatched with `runner: remote`, in this clone, and push its result')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'git-agents;help;spawn' {
            break
        }
        'git-agents;help;list' {
            break
        }
        'git-agents;help;merge' {
            break
        }
        'git-agents;help;prune' {
            break
        }
        'git-agents;help;logs' {
            break
        }
        'git-agents;help;show' {
            break
        }
        'git-agents;help;stop' {
            break
        }
        'git-agents;help;wait' {
            break
        }
        'git-agents;help;path' {
            break
        }
        'git-agents;help;init' {
            break
        }
        'git-agents;help;demo' {
            break
        }
        'git-agents;help;completions' {
            break
        }
        'git-agents;help;trust' {
            break
        }
        'git-agents;help;man' {
            break
        }
        'git-agents;help;watch' {
            break
        }
        'git-agents;help;pick' {
            break
        }
        'git-agents;help;run-task' {
            break
        }
        'git-agents;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
