namespace LispMobility.Mobility;
