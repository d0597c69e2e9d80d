import { println, type Command } from './args.js';

/**
 * `webannolo bench`: the place for the benchmark command. The benchmark itself lives in bench/
 * (run with `npm run bench` from a checkout, since it compares against hnswlib and usearch,
 * which are dev dependencies); for now this command only says so.
 */
export const benchCommand: Command = {
  name: 'bench',
  summary: 'benchmarks: run `npm run bench` in a webannolo checkout (see bench/)',
  synopsis: '',
  flags: [],
  async run(_args, io) {
    println(io.stdout, 'The benchmark compares webannolo with hnswlib and usearch and needs the dev dependencies:');
    println(io.stdout, 'run `npm run bench` (options: `npm run bench -- --help`) in a webannolo checkout. See bench/.');
    return 0;
  },
};
