// `lifeboat completion bash|zsh`: a completion script generated from this very program
// (client/completion.ts), so every command and option it offers exists.
import { type Command, Argument } from 'commander';
import { lazy } from './common.js';

export function registerCompletionCommands(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script: eval "$(lifeboat completion bash)", or zsh')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh']))
    .action(
      lazy(
        () => import('../completion.js'),
        (m) => (shell: 'bash' | 'zsh', _opts: unknown, command: Command) => {
          const root = command.parent!;
          process.stdout.write(shell === 'bash' ? m.bashCompletion(root) : m.zshCompletion(root));
        },
      ),
    );
}
