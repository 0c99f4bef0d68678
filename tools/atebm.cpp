// atebm: the command line of the engine (placeholder until the subcommands land).
#include <cstdio>
int main() { std::puts("atebm"); return 0; }
