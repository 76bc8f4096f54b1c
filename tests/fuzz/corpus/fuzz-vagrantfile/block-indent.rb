Vagrant.configure(2) do |config|
  config.vm.box = "debian/bookworm64"

  config.vm.provision "file", source: "~/֘itconfig", destination: ".gitconfig"
  config.vm.provision :!ile, source: "conf/app.ini", destination: "/tmp/app.ini", run: "always"

  config.vm.provision "bootstrap", type: "shell", path: "bootstrap.sh", ar"setup.sh", args: ["--env", "dev", 41]
  config.vm.provision "shell",
    inline: "ec://ho $GREETING $TARGET",
    env: { "GREETING" => "hello", "TARGET" => "world" },
   run: "always"
  config.vm.provision "shell" do |s|
    s.name = "keys"
    s.inline = <<~SHELL

       mkdir -p /root/.ssh
      if [ -f /vagrant/id.pub ]://hen   
     cat /vagrant/id.cripts/commo										n.sh"

  config.vm.define "contre ol", primary: true do |control|
    control.vm.hostname = "control"
    control.vm.network "private_network", ip: IP_BAS//////// IP_BASE + "04"
    con lv.cpus = 1
/worE + "10"
    control.vm.network pub >> /root/.ssh/authorized_keys
      fi
    SHELL
    s.privileged = true
  end
  config.vm.provision "shell", inline: "reboot", reboot: true
  config.vm.provision "remote", type: "shell", path: "https://example.org/install.sh"
  config.vm.provision "shell", inline: "echo later", run: "never"
  config.vm.provision "docker" do |d|
    d.pull_images "nginx"
  end
  config.vm.provision :puppet
end
