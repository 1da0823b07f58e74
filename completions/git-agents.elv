
use builtin;
use str;

set edit:completion:arg-completer[git-agents] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'git-agents'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'git-agents'= {
            cand -C 'Run as if started in PATH (like git -C); may be repeated'
            cand --manifest 'Manifest file to use instead of agents.yaml'
            cand --color 'When to colour output (NO_COLOR is honoured by auto)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Print more detail about what happens'
            cand --verbose 'Print more detail about what happens'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand spawn 'Create a worktree and branch per task and run its agent there, in parallel'
            cand list 'List every agent task and worktree, in the state the repository shows'
            cand ls 'List every agent task and worktree, in the state the repository shows'
            cand merge 'Merge finished tasks into their base branch, one at a time (a local merge queue)'
            cand prune 'Remove the worktrees and branches of finished tasks'
            cand logs 'Print a task''s log (setup, agent and check output of every attempt)'
            cand show 'Show everything known about one task'
            cand stop 'Stop running tasks: their agents and every process they started'
            cand wait 'Wait for running tasks to end'
            cand path 'Print the worktree path of a task'
            cand init 'Write a starter agents.yaml and choose the agent (agents.agent)'
            cand demo 'Watch a whole batch in a scratch repository: spawn, list, merge (with a conflict), prune'
            cand completions 'Print a shell completion script'
            cand trust 'Show the manifest''s commands (agent command, setup, check, env, notify) and trust them'
            cand man 'Print the git-agents(1) man page, or install every page'
            cand watch 'Follow running tasks live, from any terminal, until they end'
            cand pick 'Make a candidate the winner of a best-of-N task, over the automatic choice'
            cand run-task 'Run one task dispatched with `runner: remote`, in this clone, and push its result'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'git-agents;spawn'= {
            cand -p 'Run an ad-hoc task with this prompt (at most one ID)'
            cand --prompt 'Run an ad-hoc task with this prompt (at most one ID)'
            cand --agent 'Agent preset to run'
            cand --command 'Agent command template, split like a shell (e.g. "my-agent --task {prompt}")'
            cand -j 'Agents running at once'
            cand --jobs 'Agents running at once'
            cand --base 'Branch or revision to start from (default: the branch checked out)'
            cand --timeout 'Time limit per attempt, e.g. 45s, 30m, 2h'
            cand --retries 'Extra attempts after a failed one (at most 100)'
            cand --check 'Shell command run in the worktree after the agent; exit 0 = pass'
            cand --max-cost 'Budget of the whole batch in US dollars, as the agents report their spend: passing it stops the running agents, and tasks not yet started stay pending'
            cand --max-task-cost 'Budget of each task in US dollars (agents.maxCost, `max_cost`)'
            cand --max-tokens 'Budget of each task in tokens, input plus output, e.g. 200k (agents.maxTokens)'
            cand --retry-in 'Where a retry runs: a fresh worktree (default), or the same one, the agent''s session resumed (agents.retryIn, `retry_in`)'
            cand --sandbox 'Run each agent, setup and check in a sandbox: bwrap or none (see README)'
            cand --best-of 'Run each task as N candidates at once and keep the best (1-16)'
            cand --agents 'Run each task once per agent listed, as candidates (e.g. claude,codex)'
            cand -C 'Run as if started in PATH (like git -C); may be repeated'
            cand --manifest 'Manifest file to use instead of agents.yaml'
            cand --color 'When to colour output (NO_COLOR is honoured by auto)'
            cand --no-check 'Run no check, whatever the config says'
            cand --keep-empty 'Keep the worktree and branch of a task whose agent changed nothing'
            cand --json 'Print the summary as JSON on stdout'
            cand --trust 'Run a tracked manifest''s commands without recording trust (see `git agents trust`)'
            cand --force 'Spawn even when free disk space would fall below agents.minFreeDisk'
            cand -d 'Run the batch in the background with no terminal: print the task ids and return'
            cand --detach 'Run the batch in the background with no terminal: print the task ids and return'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Print more detail about what happens'
            cand --verbose 'Print more detail about what happens'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'git-agents;list'= {
            cand -C 'Run as if started in PATH (like git -C); may be repeated'
            cand --manifest 'Manifest file to use instead of agents.yaml'
            cand --color 'When to colour output (NO_COLOR is honoured by auto)'
            cand --all 'Also show pruned tasks (tombstones)'
            cand --json 'Print the tasks as JSON (version 1) on stdout'
            cand -w 'Also show the tokens each task''s agents reported (TOKENS)'
            cand --wide 'Also show the tokens each task''s agents reported (TOKENS)'
            cand --candidates 'One row per best-of-N candidate (also with --all), not one per task'
            cand --conflicts 'Also forecast, for each task waiting to merge, the other tasks it would conflict with (CONFLICTS; JSON conflicts_with), computed in memory'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Print more detail about what happens'
            cand --verbose 'Print more detail about what happens'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'git-agents;ls'= {
            cand -C 'Run as if started in PATH (like git -C); may be repeated'
            cand --manifest 'Manifest file to use instead of agents.yaml'
            cand --color 'When to colour output (NO_COLOR is honoured by auto)'
            cand --all 'Also show pruned tasks (tombstones)'
            cand --json 'Print the tasks as JSON (version 1) on stdout'
            cand -w 'Also show the tokens each task''s agents reported (TOKENS)'
            cand --wide 'Also show the tokens each task''s agents reported (TOKENS)'
            cand --candidates 'One row per best-of-N candidate (also with --all), not one per task'
            cand --conflicts 'Also forecast, for each task waiting to merge, the other tasks it would conflict with (CONFLICTS; JSON conflicts_with), computed in memory'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Print more detail about what happens'
            cand --verbose 'Print more detail about what happens'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'git-agents;merge'= {
            cand --strategy 'How a task''s branch is brought in [default: merge, or agents.mergeStrategy]'
            cand --into 'Merge into this branch instead of each task''s base'
            cand --check 'Shell command run on each merged result; exit 0 = it may land'
            cand --on-conflict 'What a conflict does: stop the queue, skip the task, let its agent resolve it, or re-run the task from the new base [default: stop]'
            cand --jobs 'Run up to N checks at once, each on the predicted result of the tasks ahead of it; the outcome is the one --jobs 1 gives [default: agents.jobs when set, else 1]'
            cand --batch 'Check N tasks at once as one result; a failing result is bisected to find the failing tasks, the others land'
            cand --order 'The queue''s order: as selected, or the forecast''s order that lands the most tasks [default: queue]'
            cand -C 'Run as if started in PATH (like git -C); may be repeated'
            cand --manifest 'Manifest file to use instead of agents.yaml'
            cand --color 'When to colour output (NO_COLOR is honoured by auto)'
            cand --all 'Every task not yet merged that succeeded or conflicted before'
            cand --no-check 'Run no check, whatever the config says'
            cand --pr 'Push each branch and open a pull request with gh instead of merging locally'
            cand --dry-run 'Report what would merge and what would conflict; change nothing'
            cand --prune 'Remove each merged task''s worktree and branch'
            cand --json 'Print the result as JSON on stdout'
            cand --trust 'Run a tracked manifest''s checks without recording trust (see `git agents trust`)'
            cand --plan 'Forecast, in memory: whether each task merges cleanly onto its base, which other tasks it conflicts with, and the order that lands the most; change nothing'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Print more detail about what happens'
            cand --verbose 'Print more detail about what happens'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'git-agents;prune'= {
            cand -C 'Run as if started in PATH (like git -C); may be repeated'
            cand --manifest 'Manifest file to use instead of agents.yaml'
            cand --color 'When to colour output (NO_COLOR is honoured by auto)'
            cand --failed 'Also prune failed, timed-out and interrupted tasks'
            cand --all 'Prune every task (running agents are still never touched)'
            cand --force 'Discard uncommitted files and commits not in base (logged to pruned.log)'
            cand -n 'Print what would happen and change nothing'
            cand --dry-run 'Print what would happen and change nothing'
            cand -y 'Do not ask before a forced removal (required with --force off a terminal)'
            cand --yes 'Do not ask before a forced removal (required with --force off a terminal)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Print more detail about what happens'
            cand --verbose 'Print more detail about what happens'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'git-agents;logs'= {
            cand -C 'Run as if started in PATH (like git -C); may be repeated'
            cand --manifest 'Manifest file to use instead of agents.yaml'
            cand --color 'When to colour output (NO_COLOR is honoured by auto)'
            cand -f 'Keep printing new output while the task runs'
            cand --follow 'Keep printing new output while the task runs'
            cand --raw 'Print the agent''s output as it wrote it (its JSON stream), not rendered'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Print more detail about what happens'
            cand --verbose 'Print more detail about what happens'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'git-agents;show'= {
            cand -C 'Run as if started in PATH (like git -C); may be repeated'
            cand --manifest 'Manifest file to use instead of agents.yaml'
            cand --color 'When to colour output (NO_COLOR is honoured by auto)'
            cand --json 'Print it as JSON (version 1) on stdout'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Print more detail about what happens'
            cand --verbose 'Print more detail about what happens'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'git-agents;stop'= {
            cand -C 'Run as if started in PATH (like git -C); may be repeated'
            cand --manifest 'Manifest file to use instead of agents.yaml'
            cand --color 'When to colour output (NO_COLOR is honoured by auto)'
            cand --all 'Stop every running task, and whatever is still running of interrupted ones'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Print more detail about what happens'
            cand --verbose 'Print more detail about what happens'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'git-agents;wait'= {
            cand --timeout 'Give up after this long, e.g. 90s, 30m, 2h (exit 1); must be more than zero'
            cand -C 'Run as if started in PATH (like git -C); may be repeated'
            cand --manifest 'Manifest file to use instead of agents.yaml'
            cand --color 'When to colour output (NO_COLOR is honoured by auto)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Print more detail about what happens'
            cand --verbose 'Print more detail about what happens'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'git-agents;path'= {
            cand -C 'Run as if started in PATH (like git -C); may be repeated'
            cand --manifest 'Manifest file to use instead of agents.yaml'
            cand --color 'When to colour output (NO_COLOR is honoured by auto)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Print more detail about what happens'
            cand --verbose 'Print more detail about what happens'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'git-agents;init'= {
            cand --agent 'Agent preset to use (stored as agents.agent in .git/config)'
            cand -C 'Run as if started in PATH (like git -C); may be repeated'
            cand --manifest 'Manifest file to use instead of agents.yaml'
            cand --color 'When to colour output (NO_COLOR is honoured by auto)'
            cand -y 'Do not ask: keep the configured agent, else take the first found on PATH'
            cand --yes 'Do not ask: keep the configured agent, else take the first found on PATH'
            cand --force 'Overwrite an existing manifest'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Print more detail about what happens'
            cand --verbose 'Print more detail about what happens'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'git-agents;demo'= {
            cand --dir 'Make the scratch repository here (must not exist yet, or be empty)'
            cand -C 'Run as if started in PATH (like git -C); may be repeated'
            cand --manifest 'Manifest file to use instead of agents.yaml'
            cand --color 'When to colour output (NO_COLOR is honoured by auto)'
            cand --keep 'Keep the scratch repository afterwards'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Print more detail about what happens'
            cand --verbose 'Print more detail about what happens'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'git-agents;completions'= {
            cand -C 'Run as if started in PATH (like git -C); may be repeated'
            cand --manifest 'Manifest file to use instead of agents.yaml'
            cand --color 'When to colour output (NO_COLOR is honoured by auto)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Print more detail about what happens'
            cand --verbose 'Print more detail about what happens'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'git-agents;trust'= {
            cand -C 'Run as if started in PATH (like git -C); may be repeated'
            cand --manifest 'Manifest file to use instead of agents.yaml'
            cand --color 'When to colour output (NO_COLOR is honoured by auto)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Print more detail about what happens'
            cand --verbose 'Print more detail about what happens'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'git-agents;man'= {
            cand --install 'Write all pages to DIR [default: ~/.local/share/man/man1]'
            cand -C 'Run as if started in PATH (like git -C); may be repeated'
            cand --manifest 'Manifest file to use instead of agents.yaml'
            cand --color 'When to colour output (NO_COLOR is honoured by auto)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Print more detail about what happens'
            cand --verbose 'Print more detail about what happens'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'git-agents;watch'= {
            cand -C 'Run as if started in PATH (like git -C); may be repeated'
            cand --manifest 'Manifest file to use instead of agents.yaml'
            cand --color 'When to colour output (NO_COLOR is honoured by auto)'
            cand --json 'Print the events as NDJSON on stdout instead of the live view'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Print more detail about what happens'
            cand --verbose 'Print more detail about what happens'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'git-agents;pick'= {
            cand -C 'Run as if started in PATH (like git -C); may be repeated'
            cand --manifest 'Manifest file to use instead of agents.yaml'
            cand --color 'When to colour output (NO_COLOR is honoured by auto)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Print more detail about what happens'
            cand --verbose 'Print more detail about what happens'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'git-agents;run-task'= {
            cand --remote 'The git remote the task came through'
            cand -C 'Run as if started in PATH (like git -C); may be repeated'
            cand --manifest 'Manifest file to use instead of agents.yaml'
            cand --color 'When to colour output (NO_COLOR is honoured by auto)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Print more detail about what happens'
            cand --verbose 'Print more detail about what happens'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'git-agents;help'= {
            cand spawn 'Create a worktree and branch per task and run its agent there, in parallel'
            cand list 'List every agent task and worktree, in the state the repository shows'
            cand merge 'Merge finished tasks into their base branch, one at a time (a local merge queue)'
            cand prune 'Remove the worktrees and branches of finished tasks'
            cand logs 'Print a task''s log (setup, agent and check output of every attempt)'
            cand show 'Show everything known about one task'
            cand stop 'Stop running tasks: their agents and every process they started'
            cand wait 'Wait for running tasks to end'
            cand path 'Print the worktree path of a task'
            cand init 'Write a starter agents.yaml and choose the agent (agents.agent)'
            cand demo 'Watch a whole batch in a scratch repository: spawn, list, merge (with a conflict), prune'
            cand completions 'Print a shell completion script'
            cand trust 'Show the manifest''s commands (agent command, setup, check, env, notify) and trust them'
            cand man 'Print the git-agents(1) man page, or install every page'
            cand watch 'Follow running tasks live, from any terminal, until they end'
            cand pick 'Make a candidate the winner of a best-of-N task, over the automatic choice'
            cand run-task 'Run one task dispatched with `runner: remote`, in this clone, and push its result'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'git-agents;help;spawn'= {
        }
        &'git-agents;help;list'= {
        }
        &'git-agents;help;merge'= {
        }
        &'git-agents;help;prune'= {
        }
        &'git-agents;help;logs'= {
        }
        &'git-agents;help;show'= {
        }
        &'git-agents;help;stop'= {
        }
        &'git-agents;help;wait'= {
        }
        &'git-agents;help;path'= {
        }
        &'git-agents;help;init'= {
        }
        &'git-agents;help;demo'= {
        }
        &'git-agents;help;completions'= {
        }
        &'git-agents;help;trust'= {
        }
        &'git-agents;help;man'= {
        }
        &'git-agents;help;watch'= {
        }
        &'git-agents;help;pick'= {
        }
        &'git-agents;help;run-task'= {
        }
        &'git-agents;help;help'= {
        }
    ]
    $completions[$command]
}
