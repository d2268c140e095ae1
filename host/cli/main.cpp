#include "host/cli/cli.hpp"

int main(int argc, char** argv) { return emb::run_cli(argc, argv); }
