# Values the import cannot write as they are: each is listed, none written,
# and what is written still validates.
Vagrant.configure("2") do |config|
  config.vm.box = "debian/bookworm64"
  config.vm.box_version = "4.3.2
1"
  config.vm.hostname = "not_a host"
  config.vm.synced_folder "data", "//./"
  config.vm.synced_folder "home", "/home"
  config.vm.synced_folder "tilde", "~"
  config.vm.synced_folder "srv", "/srv//app/../www/"
  config.vm.provision "setup:db", type: "shell", inline: "true"
  config.vm.define "web" do |web|
    web.ssh.username = "-oProxyCommand=touch /tmp/x"
  end
  config.vm.define "db" do |db|
    db.ssh.username = "postgres"
    db.vm.synced_folder "pg", "/home/postgres"
    db.vm.synced_folder "root", "/root"
  end
end
