/// The commented cloud.yaml that `init` writes (cloud reference §8.8). It loads as a valid spec.
public enum CloudTemplate {
    public static let text = """
        # megaplan cloud runner configuration.
        # Validate it with: megaplan-fleet validate --cloud-yaml cloud.yaml

        # Where the runner lives: railway (a Railway service), local (docker compose on this machine)
        # or ssh (a Docker host, or a VM with `ssh.runtime: host`, reached over SSH).
        provider: railway

        repo:
          # Repository the runner clones into its workspace on first boot.
          url: https://github.com/example/app.git
          branch: main
          # Absolute path of the checkout inside the runner.
          workspace: /workspace/app

        # Agent per phase. `default` applies to every phase not named here.
        # Phases: plan, prep, critique, revise, gate, feedback, finalize, execute, loop_plan,
        # loop_execute, review, tiebreaker_researcher, tiebreaker_challenger.
        # Agents: claude, codex, hermes, shannon.
        agents:
          default: codex

        codex:
          model: gpt-5.4
          # minimal, low, medium or high
          reasoning: high

        # What the runner does at boot:
        #   auto:  megaplan init from auto.idea_file, then `megaplan auto`
        #   chain: `megaplan chain start` on chain.spec
        #   idle:  an interactive `bash -l` in tmux session `agent`
        # A missing idea file or chain spec drops the runner to idle.
        mode: idle

        auto:
          plan_name: my-plan
          idea_file: /workspace/idea.txt
          robustness: standard

        chain:
          spec: /workspace/chain.yaml
          # chain_session: megaplan-chain

        megaplan:
          # Git ref of megaplan installed in the runner at each boot.
          ref: main

        resources:
          volume: agent-volume
          port: 8080

        railway:
          service: agent
          session: agent
          # project: my-railway-project-id
          # environment: production

        # local:
        #   compose_project: megaplan-cloud
        #   workdir: workspace

        # ssh:
        #   host: runner.example.com
        #   user: deployer
        #   port: 22
        #   identity_file: ~/.ssh/id_ed25519
        #   remote_dir: /tmp/megaplan-cloud
        #   container: megaplan-cloud-agent
        #   runtime: docker   # or host: run directly on the SSH host (megaplan, tmux, git installed)

        # Extra toolchains baked into the image: rust, go, java, or {name, install} snippets.
        # toolchains:
        #   - rust
        #   - name: zig
        #     install: RUN apt-get update && apt-get install -y zig

        # Names of local environment variables sent to the runner as secrets. Their values are
        # redacted from every output of this tool.
        secrets:
          - OPENAI_API_KEY

        """
}
