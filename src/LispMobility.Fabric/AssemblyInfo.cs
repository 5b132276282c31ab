namespace LispMobility.Fabric;
